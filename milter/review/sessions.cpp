#include "review/sessions.h"

#include <sodium.h>

#include <algorithm>

namespace pm {

std::string random_token() {
  unsigned char rnd[32];
  randombytes_buf(rnd, sizeof rnd);
  char hex[65];
  sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
  return hex;
}

Session SessionTable::create(const Account& a, std::int64_t now) {
  Session s;
  s.token = random_token();
  s.csrf = random_token();
  s.login = a.login;
  s.generation = a.generation;
  s.ends_at = now + absolute_.count();
  s.expires_at = std::min(now + idle_.count(), s.ends_at);
  std::lock_guard lock(mu_);
  // Drop expired sessions now and then, so the table cannot grow without bound.
  for (auto it = by_token_.begin(); it != by_token_.end();)
    it = it->second.expires_at <= now ? by_token_.erase(it) : std::next(it);
  by_token_[s.token] = s;
  return s;
}

std::optional<Session> SessionTable::find(std::string_view token, std::int64_t now) {
  if (token.size() != 64) return std::nullopt;
  std::lock_guard lock(mu_);
  auto it = by_token_.find(token);
  if (it == by_token_.end()) return std::nullopt;
  if (it->second.expires_at <= now) {
    by_token_.erase(it);
    return std::nullopt;
  }
  it->second.expires_at = std::min(now + idle_.count(), it->second.ends_at);
  return it->second;
}

void SessionTable::drop(std::string_view token) {
  std::lock_guard lock(mu_);
  auto it = by_token_.find(token);
  if (it != by_token_.end()) by_token_.erase(it);
}

void SessionTable::drop_login(std::string_view login) {
  std::lock_guard lock(mu_);
  for (auto it = by_token_.begin(); it != by_token_.end();)
    it = it->second.login == login ? by_token_.erase(it) : std::next(it);
}

std::size_t SessionTable::size() {
  std::lock_guard lock(mu_);
  return by_token_.size();
}

std::int64_t Throttle::delay_after(int failures) const {
  if (failures < free_) return 0;
  int doublings = std::min(failures - free_, 30);
  return std::min<std::int64_t>(std::int64_t{1} << doublings, max_delay_.count());
}

std::int64_t Throttle::begin(std::string_view key, std::int64_t now) {
  std::lock_guard lock(mu_);
  // Forget keys whose delay has long passed, so made-up logins cannot fill memory.
  if (counts_.size() > 10000)
    for (auto it = counts_.begin(); it != counts_.end();)
      it = now - it->second.last > max_delay_.count() ? counts_.erase(it) : std::next(it);
  auto& c = counts_[std::string(key)];
  if (c.failures > 0 && now - c.last > 2 * max_delay_.count())
    c.failures = 0;  // a quiet spell forgives
  std::int64_t wait = c.last + delay_after(c.failures) - now;
  if (c.failures >= free_ && wait > 0) return wait;
  ++c.failures;
  c.last = now;
  return 0;
}

void Throttle::success(std::string_view key) {
  std::lock_guard lock(mu_);
  auto it = counts_.find(key);
  if (it != counts_.end()) counts_.erase(it);
}

}  // namespace pm
