#include "decode/codec.h"

#include <array>
#include <cstdint>
#include <cstring>

#include "decode/text/charset.h"

namespace pm::mime {
namespace {

constexpr std::array<signed char, 256> make_b64_table() {
  std::array<signed char, 256> t{};
  for (auto& v : t) v = -1;
  const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<signed char>(i);
  // URL-safe alphabet too: some senders use it and decoding it costs nothing.
  t[static_cast<unsigned char>('-')] = 62;
  t[static_cast<unsigned char>('_')] = 63;
  return t;
}
constexpr auto kB64 = make_b64_table();

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool is_blank(char c) { return c == ' ' || c == '\t'; }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

// Q encoding of RFC 2047: like QP, plus '_' for space.
std::string q_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '_') {
      out.push_back(' ');
    } else if (c == '=' && i + 2 < in.size() && hex_value(in[i + 1]) >= 0 && hex_value(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

struct EncodedWord {
  std::size_t begin = 0, end = 0;  // span in the header value
  std::string_view charset;
  std::string bytes;  // decoded, still in `charset`
};

// Parses "=?charset?X?text?=" at value[pos]; false if it is not one.
bool parse_encoded_word(std::string_view v, std::size_t pos, EncodedWord& w) {
  if (pos + 2 > v.size() || v[pos] != '=' || v[pos + 1] != '?') return false;
  std::size_t cs_begin = pos + 2;
  std::size_t q1 = v.find('?', cs_begin);
  if (q1 == std::string_view::npos || q1 == cs_begin || q1 - cs_begin > 64) return false;
  if (q1 + 2 >= v.size() || v[q1 + 2] != '?') return false;
  char enc = lower(v[q1 + 1]);
  if (enc != 'b' && enc != 'q') return false;
  std::size_t text_begin = q1 + 3;
  std::size_t close = v.find("?=", text_begin);
  if (close == std::string_view::npos) return false;
  std::string_view text = v.substr(text_begin, close - text_begin);
  std::string_view charset = v.substr(cs_begin, q1 - cs_begin);
  if (auto star = charset.find('*'); star != std::string_view::npos)
    charset = charset.substr(0, star);  // RFC 2231 language suffix
  w.begin = pos;
  w.end = close + 2;
  w.charset = charset;
  w.bytes = enc == 'b' ? base64_decode(text) : q_decode(text);
  return true;
}

}  // namespace

std::string base64_decode(std::string_view in) {
  std::string out(in.size() / 4 * 3 + 3, '\0');
  char* o = out.data();
  const unsigned char* p = reinterpret_cast<const unsigned char*>(in.data());
  const unsigned char* end = p + in.size();
  std::uint32_t acc = 0;
  int bits = 0;
  while (p < end) {
    // Fast path: four alphabet characters in a row (the body of every line) -> 3 bytes.
    if (bits == 0 && end - p >= 4) {
      int a = kB64[p[0]], b = kB64[p[1]], c = kB64[p[2]], d = kB64[p[3]];
      if ((a | b | c | d) >= 0) {
        std::uint32_t v = (static_cast<std::uint32_t>(a) << 18) | (static_cast<std::uint32_t>(b) << 12) |
                          (static_cast<std::uint32_t>(c) << 6) | static_cast<std::uint32_t>(d);
        *o++ = static_cast<char>(v >> 16);
        *o++ = static_cast<char>((v >> 8) & 0xFF);
        *o++ = static_cast<char>(v & 0xFF);
        p += 4;
        continue;
      }
    }
    unsigned char ch = *p++;
    int v = kB64[ch];
    if (v < 0) {
      if (ch == '=') {
        // Padding ends a group; a new group may follow (concatenated base64 blocks).
        acc = 0;
        bits = 0;
      }
      continue;
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      *o++ = static_cast<char>((acc >> bits) & 0xFF);
    }
    if (bits == 0) acc = 0;
  }
  out.resize(static_cast<std::size_t>(o - out.data()));
  return out;
}

std::string qp_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  std::size_t i = 0;
  const std::size_t n = in.size();
  while (i < n) {
    const char* eq = static_cast<const char*>(std::memchr(in.data() + i, '=', n - i));
    std::size_t stop = eq ? static_cast<std::size_t>(eq - in.data()) : n;
    out.append(in.data() + i, stop - i);
    i = stop;
    if (i >= n) break;
    // in[i] == '='
    if (i + 2 < n && hex_value(in[i + 1]) >= 0 && hex_value(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2])));
      i += 3;
      continue;
    }
    // Soft line break: '=' then optional blanks then a line end (or end of input).
    std::size_t j = i + 1;
    while (j < n && is_blank(in[j])) ++j;
    if (j >= n) {
      i = j;
      continue;
    }
    if (in[j] == '\r' || in[j] == '\n') {
      if (in[j] == '\r' && j + 1 < n && in[j + 1] == '\n') ++j;
      i = j + 1;
      continue;
    }
    out.push_back('=');  // a literal '=' the sender forgot to escape
    ++i;
  }
  return out;
}

std::string decode_transfer(std::string_view body, std::string_view cte) {
  while (!cte.empty() && (is_blank(cte.front()) || cte.front() == '"')) cte.remove_prefix(1);
  while (!cte.empty() && (is_blank(cte.back()) || cte.back() == '"')) cte.remove_suffix(1);
  if (iequal(cte, "base64")) return base64_decode(body);
  if (iequal(cte, "quoted-printable")) return qp_decode(body);
  return std::string(body);
}

std::string decode_header_value(std::string_view v) {
  if (v.find("=?") == std::string_view::npos) return text::to_utf8(v, "");
  std::string out;
  out.reserve(v.size());
  std::size_t pos = 0;  // start of text not yet emitted
  std::size_t scan = 0;
  std::string pending;  // bytes of adjacent encoded words sharing one charset
  std::string pending_charset;
  auto flush = [&] {
    if (!pending.empty()) out += text::to_utf8(pending, pending_charset);
    pending.clear();
  };
  bool last_was_word = false;
  while (true) {
    std::size_t at = v.find("=?", scan);
    if (at == std::string_view::npos) break;
    EncodedWord w;
    if (!parse_encoded_word(v, at, w)) {
      scan = at + 2;
      continue;
    }
    std::string_view between = v.substr(pos, at - pos);
    bool only_space = true;
    for (char c : between)
      if (!is_blank(c) && c != '\r' && c != '\n') only_space = false;
    if (!(last_was_word && only_space)) {
      flush();
      out += text::to_utf8(between, "");
    }
    if (!pending.empty() && !iequal(w.charset, pending_charset)) flush();
    if (pending.empty()) pending_charset.assign(w.charset);
    pending += w.bytes;
    pos = scan = w.end;
    last_was_word = true;
  }
  flush();
  out += text::to_utf8(v.substr(pos), "");
  return out;
}

void normalise_newlines(std::string& s) {
  if (std::memchr(s.data(), '\r', s.size()) == nullptr) return;
  std::size_t w = 0;
  for (std::size_t r = 0; r < s.size(); ++r) {
    char c = s[r];
    if (c == '\r') {
      if (r + 1 < s.size() && s[r + 1] == '\n') continue;
      c = '\n';
    }
    s[w++] = c;
  }
  s.resize(w);
}

}  // namespace pm::mime
