// One-time passwords for the review page's optional second factor: HOTP (RFC 4226) and
// TOTP (RFC 6238), with the Base32 secrets authenticator apps read (RFC 4648).
//
// HMAC comes from OpenSSL's libcrypto (libsodium has no HMAC-SHA1, and SHA-1 is what every
// authenticator app uses by default). Codes are compared in constant time.
// Errors: none thrown; base32_decode returns nullopt on bad input.
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pm::totp {

enum class Hash { sha1, sha256, sha512 };

std::string base32_encode(std::string_view bytes);             // no padding, upper case
std::optional<std::string> base32_decode(std::string_view s);  // ignores spaces, case, '='

// HOTP value truncated to `digits` (6..8), zero-padded.
std::string hotp(std::string_view key, std::uint64_t counter, int digits = 6, Hash h = Hash::sha1);
// TOTP at unix time `t` with a 30 s step.
std::string totp(std::string_view key, std::int64_t t, int digits = 6, Hash h = Hash::sha1,
                 int step = 30);
// Accepts the code of the current step or `window` steps either side (clock drift).
bool verify(std::string_view key, std::string_view code, std::int64_t now, int window = 1);
// The same, returning the step (t / 30) the code belongs to, for the replay guard
// (UserStore::accept_totp_step); nullopt when no step in the window matches.
std::optional<std::int64_t> verify_step(std::string_view key, std::string_view code,
                                        std::int64_t now, int window = 1);

// 20 random bytes, Base32 (what `policyctl users add --totp` prints).
std::string new_secret_base32();
// otpauth:// URI for an authenticator app.
std::string provisioning_uri(std::string_view secret_base32, std::string_view login,
                             std::string_view issuer);

}  // namespace pm::totp
