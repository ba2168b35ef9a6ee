#include "review/totp.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include <cctype>
#include <cstring>

namespace pm::totp {

namespace {
const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

std::string uri_escape(std::string_view s) {
  std::string out;
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}
}  // namespace

std::string base32_encode(std::string_view bytes) {
  std::string out;
  std::uint32_t buf = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buf = (buf << 8) | c;
    bits += 8;
    while (bits >= 5) {
      out += kAlphabet[(buf >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += kAlphabet[(buf << (5 - bits)) & 31];
  return out;
}

std::optional<std::string> base32_decode(std::string_view s) {
  std::string out;
  std::uint32_t buf = 0;
  int bits = 0;
  for (char ch : s) {
    if (ch == ' ' || ch == '=' || ch == '-') continue;
    char u = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    const char* p = std::strchr(kAlphabet, u);
    if (!p || u == '\0') return std::nullopt;
    buf = (buf << 5) | static_cast<std::uint32_t>(p - kAlphabet);
    bits += 5;
    if (bits >= 8) {
      out += static_cast<char>((buf >> (bits - 8)) & 0xFF);
      bits -= 8;
    }
  }
  return out;
}

std::string hotp(std::string_view key, std::uint64_t counter, int digits, Hash h) {
  unsigned char msg[8];
  for (int i = 7; i >= 0; --i) {
    msg[i] = static_cast<unsigned char>(counter & 0xFF);
    counter >>= 8;
  }
  const EVP_MD* md = h == Hash::sha1 ? EVP_sha1() : h == Hash::sha256 ? EVP_sha256() : EVP_sha512();
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), msg, sizeof msg, mac, &len);
  int off = mac[len - 1] & 0x0F;
  std::uint32_t bin = (static_cast<std::uint32_t>(mac[off] & 0x7F) << 24) |
                      (static_cast<std::uint32_t>(mac[off + 1]) << 16) |
                      (static_cast<std::uint32_t>(mac[off + 2]) << 8) | mac[off + 3];
  std::uint32_t mod = 1;
  for (int i = 0; i < digits; ++i) mod *= 10;
  std::string code = std::to_string(bin % mod);
  return std::string(static_cast<std::size_t>(digits) - code.size(), '0') + code;
}

std::string totp(std::string_view key, std::int64_t t, int digits, Hash h, int step) {
  return hotp(key, static_cast<std::uint64_t>(t / step), digits, h);
}

std::optional<std::int64_t> verify_step(std::string_view key, std::string_view code,
                                        std::int64_t now, int window) {
  if (code.size() != 6) return std::nullopt;
  std::optional<std::int64_t> step;
  for (int d = -window; d <= window; ++d) {
    std::string want = totp(key, now + d * 30);
    // Constant time, and no early exit, so timing says nothing about which step matched.
    if (sodium_memcmp(want.data(), code.data(), 6) == 0) step = now / 30 + d;
  }
  return step;
}

bool verify(std::string_view key, std::string_view code, std::int64_t now, int window) {
  return verify_step(key, code, now, window).has_value();
}

std::string new_secret_base32() {
  unsigned char rnd[20];
  randombytes_buf(rnd, sizeof rnd);
  return base32_encode(std::string_view(reinterpret_cast<const char*>(rnd), sizeof rnd));
}

std::string provisioning_uri(std::string_view secret, std::string_view login,
                             std::string_view issuer) {
  return "otpauth://totp/" + uri_escape(issuer) + ":" + uri_escape(login) +
         "?secret=" + std::string(secret) + "&issuer=" + uri_escape(issuer) +
         "&algorithm=SHA1&digits=6&period=30";
}

}  // namespace pm::totp
