// Signed-in sessions and sign-in throttling for policy-review, kept in memory (a restart
// signs everyone out, which is the safe direction).
//
// A session is a 256-bit random token (the HttpOnly cookie) with its own CSRF token (sent
// by the page in X-CSRF-Token on every state change), the account's login and the
// account generation it was made under (accounts.h: any change of role, password, second
// factor or duties bumps it, so the server, which re-reads the account on every request,
// ends the session). Two lifetimes: idle (each use extends it) and absolute (from sign-in,
// never extended; the cookie's Max-Age is the same).
// Throttle: growing delays, not a lock. Each attempt is counted *before* the password is
// checked (begin()), so parallel guesses cannot outrun the count; a success takes its
// own count back. After `free` failures for a key (a login, or a client address) the next
// attempt must wait 1 s, then 2 s, 4 s ... up to `max_delay` after the last one.
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
  std::int64_t generation = 0;
  std::int64_t expires_at = 0;  // idle expiry, unix seconds
  std::int64_t ends_at = 0;     // absolute expiry
};

class SessionTable {
 public:
  SessionTable(std::chrono::seconds idle, std::chrono::seconds absolute)
      : idle_(idle), absolute_(absolute) {}
  Session create(const Account& a, std::int64_t now);
  // The live session for `token` (its idle expiry extended), or nullopt.
  std::optional<Session> find(std::string_view token, std::int64_t now);
  void drop(std::string_view token);
  void drop_login(std::string_view login);  // every session of an account
  std::chrono::seconds absolute() const { return absolute_; }
  std::size_t size();

 private:
  std::chrono::seconds idle_, absolute_;
  std::mutex mu_;
  std::map<std::string, Session, std::less<>> by_token_;
};

class Throttle {
 public:
  Throttle(int free_attempts, std::chrono::seconds max_delay)
      : free_(free_attempts), max_delay_(max_delay) {}
  // 0: go ahead (this attempt is now counted as a failure); otherwise the seconds to wait.
  std::int64_t begin(std::string_view key, std::int64_t now);
  void success(std::string_view key);  // the attempt begun for `key` succeeded
  std::int64_t delay_after(int failures) const;

 private:
  struct Count {
    int failures = 0;
    std::int64_t last = 0;
  };
  int free_;
  std::chrono::seconds max_delay_;
  std::mutex mu_;
  std::map<std::string, Count, std::less<>> counts_;
};

// 32 random bytes as hex.
std::string random_token();

}  // namespace pm
