#include "review/accounts.h"

#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

namespace pm {

const char* to_string(Role r) {
  switch (r) {
    case Role::admin:
      return "admin";
    case Role::dpo:
      return "dpo";
    case Role::it_admin:
      return "it-admin";
    case Role::reviewer:
      break;
  }
  return "reviewer";
}

std::optional<Role> parse_role(std::string_view s) {
  for (Role r : {Role::reviewer, Role::admin, Role::dpo, Role::it_admin})
    if (s == to_string(r)) return r;
  return std::nullopt;
}

namespace {

void sodium_ready() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
}

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &st_, nullptr) != SQLITE_OK)
      throw std::runtime_error(std::string("users db: ") + sqlite3_errmsg(db));
  }
  ~Stmt() { sqlite3_finalize(st_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& bind(int i, std::string_view s) {
    sqlite3_bind_text(st_, i, s.empty() ? "" : s.data(), static_cast<int>(s.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(st_, i, v);
    return *this;
  }
  bool step() {
    int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw std::runtime_error(std::string("users db: ") + sqlite3_errmsg(db_));
  }
  std::string text(int c) const {
    auto p = sqlite3_column_text(st_, c);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(st_, c)))
             : std::string();
  }
  std::int64_t integer(int c) const { return sqlite3_column_int64(st_, c); }

 private:
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
};

constexpr const char* kColumns =
    "login, role, email, categories, totp_secret, created_at, pwhash, duties, generation, "
    "schools";

std::vector<std::string> json_list(const std::string& text) {
  std::vector<std::string> out;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_array())
    for (auto& e : j)
      if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

Account read_account(const Stmt& st) {
  Account a;
  a.login = st.text(0);
  a.role = parse_role(st.text(1)).value_or(Role::reviewer);
  a.email = st.text(2);
  a.categories = json_list(st.text(3));
  a.totp_secret = st.text(4);
  a.created_at = st.integer(5);
  a.duties = json_list(st.text(7));
  a.generation = st.integer(8);
  a.schools = json_list(st.text(9));
  return a;
}

bool valid_login(std::string_view l) {
  if (l.empty() || l.size() > 64) return false;
  for (char c : l)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
          c == '@'))
      return false;
  return true;
}

}  // namespace

std::string password_problem(std::string_view pw) {
  if (pw.size() < 10) return "a password needs at least 10 characters";
  if (pw.size() > 1024) return "a password may have at most 1024 characters";
  return "";
}

std::string hash_password(std::string_view password) {
  sodium_ready();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(),
                            crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
                            crypto_pwhash_ALG_ARGON2ID13) != 0)
    throw std::runtime_error("password hashing ran out of memory");
  return out;
}

bool verify_password(const std::string& hash, std::string_view password) {
  sodium_ready();
  if (hash.rfind("$argon2id$", 0) != 0) return false;
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

void UserStore::DbCloser::operator()(sqlite3* db) const noexcept {
  sqlite3_close_v2(db);
}

UserStore::UserStore(std::filesystem::path file) {
  sodium_ready();
  std::error_code ec;
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(file.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  db_.reset(raw);
  if (rc != SQLITE_OK)
    throw std::runtime_error("open " + file.string() + ": " +
                             (raw ? sqlite3_errmsg(raw) : "out of memory"));
  ::chmod(file.c_str(), 0640);
  sqlite3_busy_timeout(db_.get(), 5000);
  char* err = nullptr;
  if (sqlite3_exec(db_.get(),
                   "CREATE TABLE IF NOT EXISTS users(login TEXT PRIMARY KEY, role TEXT NOT NULL,"
                   " email TEXT NOT NULL DEFAULT '', categories TEXT NOT NULL DEFAULT '[]',"
                   " totp_secret TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL,"
                   " pwhash TEXT NOT NULL)",
                   nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "?";
    sqlite3_free(err);
    throw std::runtime_error("users db: " + m);
  }
  // Columns added later (issue 9), for files made before them.
  for (const char* col :
       {"duties TEXT NOT NULL DEFAULT '[]'", "generation INTEGER NOT NULL DEFAULT 0",
        "totp_last_step INTEGER NOT NULL DEFAULT 0",
        // Issue 15: the schools an account reviews.
        "schools TEXT NOT NULL DEFAULT '[]'"}) {
    std::string name(col, std::strchr(col, ' '));
    bool has = false;
    {
      Stmt cols(db_.get(), "PRAGMA table_info(users)");
      while (cols.step()) has |= cols.text(1) == name;
    }
    if (!has) {
      std::string sql = std::string("ALTER TABLE users ADD COLUMN ") + col;
      if (sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK &&
          std::string(sqlite3_errmsg(db_.get())).find("duplicate column") == std::string::npos)
        throw std::runtime_error(std::string("users db: ") + sqlite3_errmsg(db_.get()));
    }
  }
  dummy_hash_ = hash_password("not-a-real-password-for-timing");
}

UserStore::~UserStore() = default;

void UserStore::add(const Account& a, std::string_view password) {
  if (!valid_login(a.login))
    throw AccountError("a login may use letters, digits and . - _ @ (max 64)");
  if (auto p = password_problem(password); !p.empty()) throw AccountError(p);
  std::string hash = hash_password(password);
  std::lock_guard lock(mu_);
  Stmt st(db_.get(),
          "INSERT OR IGNORE INTO users(login, role, email, categories, totp_secret, created_at, "
          "pwhash, duties, schools)"
          " VALUES(?,?,?,?,?,?,?,?,?)");
  st.bind(1, a.login).bind(2, std::string_view(to_string(a.role))).bind(3, a.email);
  st.bind(4, nlohmann::json(a.categories).dump()).bind(5, a.totp_secret);
  st.bind(6, static_cast<std::int64_t>(std::time(nullptr))).bind(7, hash);
  st.bind(8, nlohmann::json(a.duties).dump()).bind(9, nlohmann::json(a.schools).dump());
  st.step();
  if (sqlite3_changes(db_.get()) != 1) throw AccountError("account " + a.login + " exists already");
}

void UserStore::remove(std::string_view login) {
  std::lock_guard lock(mu_);
  Stmt st(db_.get(), "DELETE FROM users WHERE login = ?");
  st.bind(1, login);
  st.step();
  if (sqlite3_changes(db_.get()) != 1) throw AccountError("no account " + std::string(login));
}

void UserStore::set_password(std::string_view login, std::string_view password) {
  if (auto p = password_problem(password); !p.empty()) throw AccountError(p);
  std::string hash = hash_password(password);
  std::lock_guard lock(mu_);
  Stmt st(db_.get(), "UPDATE users SET pwhash = ?, generation = generation + 1 WHERE login = ?");
  st.bind(1, hash).bind(2, login);
  st.step();
  if (sqlite3_changes(db_.get()) != 1) throw AccountError("no account " + std::string(login));
}

void UserStore::set_totp(std::string_view login, std::string_view secret) {
  std::lock_guard lock(mu_);
  Stmt st(db_.get(),
          "UPDATE users SET totp_secret = ?, totp_last_step = 0, generation = generation + 1 WHERE "
          "login = ?");
  st.bind(1, secret).bind(2, login);
  st.step();
  if (sqlite3_changes(db_.get()) != 1) throw AccountError("no account " + std::string(login));
}

void UserStore::set_role(std::string_view login, Role role) {
  std::lock_guard lock(mu_);
  Stmt st(db_.get(), "UPDATE users SET role = ?, generation = generation + 1 WHERE login = ?");
  st.bind(1, std::string_view(to_string(role))).bind(2, login);
  st.step();
  if (sqlite3_changes(db_.get()) != 1) throw AccountError("no account " + std::string(login));
}

void UserStore::set_duties(std::string_view login, const std::vector<std::string>& duties) {
  set_list("UPDATE users SET duties = ?, generation = generation + 1 WHERE login = ?", login,
           duties);
}

void UserStore::set_schools(std::string_view login, const std::vector<std::string>& schools) {
  set_list("UPDATE users SET schools = ?, generation = generation + 1 WHERE login = ?", login,
           schools);
}

void UserStore::set_list(const char* sql, std::string_view login,
                         const std::vector<std::string>& values) {
  std::lock_guard lock(mu_);
  Stmt st(db_.get(), sql);
  st.bind(1, nlohmann::json(values).dump()).bind(2, login);
  st.step();
  if (sqlite3_changes(db_.get()) != 1) throw AccountError("no account " + std::string(login));
}

bool UserStore::accept_totp_step(std::string_view login, std::int64_t step) {
  std::lock_guard lock(mu_);
  Stmt st(db_.get(), "UPDATE users SET totp_last_step = ? WHERE login = ? AND totp_last_step < ?");
  st.bind(1, step).bind(2, login).bind(3, step);
  st.step();
  return sqlite3_changes(db_.get()) == 1;
}

std::optional<Account> UserStore::find(std::string_view login) const {
  std::lock_guard lock(mu_);
  std::string sql = std::string("SELECT ") + kColumns + " FROM users WHERE login = ?";
  Stmt st(db_.get(), sql.c_str());
  st.bind(1, login);
  if (!st.step()) return std::nullopt;
  return read_account(st);
}

std::vector<Account> UserStore::list() const {
  std::lock_guard lock(mu_);
  std::string sql = std::string("SELECT ") + kColumns + " FROM users ORDER BY login";
  Stmt st(db_.get(), sql.c_str());
  std::vector<Account> out;
  while (st.step()) out.push_back(read_account(st));
  return out;
}

std::optional<Account> UserStore::verify(std::string_view login, std::string_view password) const {
  std::optional<Account> a;
  std::string hash;
  {
    std::lock_guard lock(mu_);
    std::string sql = std::string("SELECT ") + kColumns + " FROM users WHERE login = ?";
    Stmt st(db_.get(), sql.c_str());
    st.bind(1, login);
    if (st.step()) {
      a = read_account(st);
      hash = st.text(6);
    }
  }
  if (!a) {
    (void)verify_password(dummy_hash_, password);  // same cost as a real check
    return std::nullopt;
  }
  if (!verify_password(hash, password)) return std::nullopt;
  return a;
}

}  // namespace pm
