// Reviewer accounts for policy-review: login, role, e-mail for notices, category scope,
// Argon2id password hash (libsodium crypto_pwhash) and an optional TOTP secret.
//
// Kept in their own SQLite file (`[review] users_db`), written by `policyctl users ...` as
// root and read by policy-review. The file is 0640: hashes are not for everyone's eyes.
//
// verify() spends the same hashing time for an unknown login as for a known one, so a
// caller cannot learn which logins exist from timing.
// Errors: AccountError for a duplicate or unknown login, a weak password or a bad role;
// StoreError-like std::runtime_error for database failures.
// Thread safety: all methods may be called from any thread (one mutex).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;

namespace pm {

class AccountError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// reviewer and admin belong to their schools (Account::schools); dpo (the trust's data
// protection officer: a reviewer of every school) and it-admin (an admin of every
// school) are the trust-level roles (issue 15). With no [[schools]] configured there is
// one school and every account sees it whatever its role.
enum class Role { reviewer, admin, dpo, it_admin };
const char* to_string(Role r);  // "reviewer", "admin", "dpo", "it-admin"
std::optional<Role> parse_role(std::string_view s);
// The admin's powers (delete, dismissals, accounts, the whole audit of its schools).
inline bool is_admin(Role r) {
  return r == Role::admin || r == Role::it_admin;
}
// Sees every school of the trust.
inline bool is_trust_role(Role r) {
  return r == Role::dpo || r == Role::it_admin;
}

struct Account {
  std::string login;
  Role role = Role::reviewer;
  std::string email;                    // where reviewer notices go ("" = none)
  std::vector<std::string> categories;  // scope: empty = every category
  std::string totp_secret;              // Base32; empty = no second factor
  std::int64_t created_at = 0;
  // What the account is in the school ("head-teacher", "deputy", "chair", ...): routes
  // name reviewers by duty ("duty:chair").
  std::vector<std::string> duties;
  // Bumped by every change of role, password, second factor, duties or schools: a
  // session made under another generation is over (sessions.h).
  std::int64_t generation = 0;
  // The [[schools]] ids whose mail the account reviews (issue 15); ignored for the trust
  // roles and when no [[schools]] are configured.
  std::vector<std::string> schools;
};

// Argon2id (crypto_pwhash_str_alg, ALG_ARGON2ID13, interactive limits).
std::string hash_password(std::string_view password);
bool verify_password(const std::string& hash, std::string_view password);
// At least 10 characters; returns the reason when too weak, "" when acceptable.
std::string password_problem(std::string_view password);

class UserStore {
 public:
  explicit UserStore(std::filesystem::path file);  // creates the file and schema
  ~UserStore();
  UserStore(const UserStore&) = delete;
  UserStore& operator=(const UserStore&) = delete;

  void add(const Account& account, std::string_view password);
  void remove(std::string_view login);
  void set_password(std::string_view login, std::string_view password);
  void set_totp(std::string_view login, std::string_view secret_base32);
  void set_role(std::string_view login, Role role);
  void set_duties(std::string_view login, const std::vector<std::string>& duties);
  void set_schools(std::string_view login, const std::vector<std::string>& schools);
  // TOTP replay guard: records `step` as the last accepted one and returns true only when
  // it is newer than the last accepted step of this account (atomic in the database, so
  // two processes cannot both accept one code).
  bool accept_totp_step(std::string_view login, std::int64_t step);
  std::optional<Account> find(std::string_view login) const;
  std::vector<Account> list() const;
  // The account when login + password match (the TOTP check is the caller's).
  std::optional<Account> verify(std::string_view login, std::string_view password) const;

 private:
  struct DbCloser {
    void operator()(sqlite3* db) const noexcept;
  };
  // A JSON list column of one account (`sql`: UPDATE ... SET col = ? ... WHERE login = ?).
  void set_list(const char* sql, std::string_view login, const std::vector<std::string>& values);

  std::unique_ptr<sqlite3, DbCloser> db_;
  mutable std::mutex mu_;
  std::string dummy_hash_;  // verified against for unknown logins
};

}  // namespace pm
