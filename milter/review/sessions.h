// Signed-in sessions and sign-in throttling for policy-review, kept in memory (a restart
// signs everyone out, which is the safe direction).
//
// A session is a 256-bit random token (the HttpOnly cookie) with its own CSRF token (sent
// by the page in X-CSRF-Token on every state change), the account's login and role, and
// an idle lifetime: each use extends it, up to `lifetime` of inactivity.
// Throttle: after `max_failures` failed sign-ins for a key (the login, and separately the
// client address) within `window`, that key is refused until `window` has passed since
// the last failure. A success clears the login's count.
// Thread safety: both classes are internally locked.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "review/accounts.h"

namespace pm {

struct Session {
  std::string token, csrf, login;
  Role role = Role::reviewer;
  std::int64_t expires_at = 0;  // unix seconds
};

class SessionTable {
 public:
  explicit SessionTable(std::chrono::seconds lifetime) : lifetime_(lifetime) {}
  Session create(const Account& a, std::int64_t now);
  // The live session for `token` (its expiry extended), or nullopt.
  std::optional<Session> find(std::string_view token, std::int64_t now);
  void drop(std::string_view token);
  void drop_login(std::string_view login);  // account removed or password changed
  std::chrono::seconds lifetime() const { return lifetime_; }

 private:
  std::chrono::seconds lifetime_;
  std::mutex mu_;
  std::map<std::string, Session, std::less<>> by_token_;
};

class Throttle {
 public:
  Throttle(int max_failures, std::chrono::seconds window) : max_(max_failures), window_(window) {}
  bool allowed(std::string_view key, std::int64_t now);
  void failure(std::string_view key, std::int64_t now);
  void success(std::string_view key);

 private:
  struct Count {
    int failures = 0;
    std::int64_t last = 0;
  };
  int max_;
  std::chrono::seconds window_;
  std::mutex mu_;
  std::map<std::string, Count, std::less<>> counts_;
};

// 32 random bytes as hex.
std::string random_token();

}  // namespace pm
