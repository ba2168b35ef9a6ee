#include "review/sessions.h"

#include <sodium.h>

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
  s.role = a.role;
  s.expires_at = now + lifetime_.count();
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
  it->second.expires_at = now + lifetime_.count();
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

bool Throttle::allowed(std::string_view key, std::int64_t now) {
  std::lock_guard lock(mu_);
  auto it = counts_.find(key);
  if (it == counts_.end()) return true;
  if (now - it->second.last >= window_.count()) {
    counts_.erase(it);
    return true;
  }
  return it->second.failures < max_;
}

void Throttle::failure(std::string_view key, std::int64_t now) {
  std::lock_guard lock(mu_);
  auto& c = counts_[std::string(key)];
  if (now - c.last >= window_.count()) c.failures = 0;
  ++c.failures;
  c.last = now;
}

void Throttle::success(std::string_view key) {
  std::lock_guard lock(mu_);
  auto it = counts_.find(key);
  if (it != counts_.end()) counts_.erase(it);
}

}  // namespace pm
