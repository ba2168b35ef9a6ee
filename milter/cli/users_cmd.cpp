// policyctl users: reviewer accounts for policy-review (review/accounts.h).
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/review_commands.h"
#include "review/accounts.h"
#include "review/config.h"
#include "review/totp.h"

namespace pm::cli {

namespace {

const char* const kUsage =
    "usage: policyctl users add LOGIN --role reviewer|admin [--email ADDR] [--categories a,b] [--totp]\n"
    "                           [--password-stdin]\n"
    "       policyctl users remove LOGIN\n"
    "       policyctl users passwd LOGIN [--password-stdin]\n"
    "       policyctl users totp LOGIN [--off]\n"
    "       policyctl users list [--json]\n"
    "Without --password-stdin the password is asked for on the terminal (twice).\n";

// Echo off while the password is typed; restored on scope exit.
class NoEcho {
 public:
  NoEcho() {
    if (::tcgetattr(STDIN_FILENO, &old_) == 0) {
      termios t = old_;
      t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      active_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
    }
  }
  ~NoEcho() {
    if (active_) ::tcsetattr(STDIN_FILENO, TCSANOW, &old_);
  }

 private:
  termios old_{};
  bool active_ = false;
};

std::optional<std::string> read_password(bool from_stdin) {
  std::string a, b;
  if (from_stdin) {
    if (!std::getline(std::cin, a)) return std::nullopt;
    if (!a.empty() && a.back() == '\r') a.pop_back();
    return a;
  }
  if (!::isatty(STDIN_FILENO)) {
    std::fprintf(stderr, "policyctl: no terminal: use --password-stdin\n");
    return std::nullopt;
  }
  NoEcho guard;
  std::fprintf(stderr, "New password: ");
  std::getline(std::cin, a);
  std::fprintf(stderr, "\nAgain: ");
  std::getline(std::cin, b);
  std::fprintf(stderr, "\n");
  if (a != b) {
    std::fprintf(stderr, "policyctl: the passwords differ\n");
    return std::nullopt;
  }
  return a;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= s.size()) {
    auto end = s.find(',', pos);
    if (end == std::string::npos) end = s.size();
    if (end > pos) out.push_back(s.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

void print_totp(const std::string& secret, const std::string& login, const std::string& school) {
  std::printf("TOTP secret for %s: %s\n", login.c_str(), secret.c_str());
  std::printf("Add it to an authenticator app, or open: %s\n",
              totp::provisioning_uri(secret, login, school.empty() ? "policy-review" : school).c_str());
}

// The accounts file belongs to the review page's user, whoever runs policyctl: its
// directory ([review] users_db's parent, /var/lib/policy-review from tmpfiles.d) is owned
// by that user, so files created there by root are given to the directory's owner when the
// store is closed (this object outlives the UserStore). Without the directory, or without
// the right to write it, check() says which command to run instead.
class AccountsOwner {
 public:
  explicit AccountsOwner(std::filesystem::path db) : db_(std::move(db)) {}
  ~AccountsOwner() {
    if (!fix_) return;
    for (const char* suffix : {"", "-journal", "-wal", "-shm"}) {
      std::string f = db_.string() + suffix;
      struct stat st {};
      if (::lstat(f.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
          (st.st_uid != uid_ || st.st_gid != gid_) && ::lchown(f.c_str(), uid_, gid_) != 0)
        std::fprintf(stderr, "policyctl: cannot give %s to uid %u: %s\n", f.c_str(), uid_,
                     std::strerror(errno));
    }
  }
  AccountsOwner(const AccountsOwner&) = delete;
  AccountsOwner& operator=(const AccountsOwner&) = delete;

  // False (after a message naming the command to run) when policyctl must not go on.
  bool check(bool write) {
    std::filesystem::path dir = db_.parent_path().empty() ? "." : db_.parent_path();
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) {
      std::fprintf(
          stderr,
          "policyctl: %s does not exist. Create it first: `systemd-tmpfiles --create "
          "policy-milter.conf`\n"
          "(installed packages), or `install -d -o policy-review -g policy-review -m 0750 %s`\n",
          dir.c_str(), dir.c_str());
      return false;
    }
    if (::geteuid() == 0) {
      fix_ = st.st_uid != 0;
      uid_ = st.st_uid;
      gid_ = st.st_gid;
      return true;
    }
    bool exists = ::access(db_.c_str(), F_OK) == 0;
    if (write && ::access(exists ? db_.c_str() : dir.c_str(), W_OK) != 0) {
      std::fprintf(
          stderr,
          "policyctl: cannot write %s: run it as root (sudo policyctl ...) or as the owner of %s\n",
          exists ? db_.c_str() : dir.c_str(), dir.c_str());
      return false;
    }
    return true;
  }

 private:
  std::filesystem::path db_;
  bool fix_ = false;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
};

}  // namespace

int users(const std::filesystem::path& config, const Args& args) {
  ReviewConfig cfg;
  if (auto rc = help_or_load(kUsage, config, args, cfg)) return *rc;
  const std::string cmd = args[0];
  std::vector<std::string> positional;
  Account acct;
  bool role_given = false, want_totp = false, pw_stdin = false, off = false, as_json = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool has_value = i + 1 < args.size();
    if (a == "--role" && has_value) {
      auto r = parse_role(args[++i]);
      if (!r) {
        std::fprintf(stderr, "policyctl: --role must be reviewer or admin\n");
        return 2;
      }
      acct.role = *r;
      role_given = true;
    } else if (a == "--email" && has_value) {
      acct.email = args[++i];
    } else if (a == "--categories" && has_value) {
      acct.categories = split_commas(args[++i]);
    } else if (a == "--totp") {
      want_totp = true;
    } else if (a == "--password-stdin") {
      pw_stdin = true;
    } else if (a == "--off") {
      off = true;
    } else if (a == "--json") {
      as_json = true;
    } else if (!a.empty() && a[0] == '-') {
      std::fputs(kUsage, stderr);
      return 2;
    } else {
      positional.push_back(a);
    }
  }
  try {
    AccountsOwner owner(cfg.users_db);
    if (!owner.check(cmd != "list")) return 1;
    UserStore users(cfg.users_db);
    if (cmd == "list") {
      for (const auto& a : users.list()) {
        if (as_json) {
          std::cout << nlohmann::json{{"login", a.login}, {"role", to_string(a.role)}, {"email", a.email},
                                      {"categories", a.categories}, {"totp", !a.totp_secret.empty()}}
                           .dump()
                    << "\n";
        } else {
          std::string cats;
          for (const auto& c : a.categories) cats += (cats.empty() ? "" : ",") + c;
          std::printf("%-24s %-8s %-32s %s%s\n", a.login.c_str(), to_string(a.role), a.email.c_str(),
                      cats.empty() ? "all categories" : cats.c_str(), a.totp_secret.empty() ? "" : " (TOTP)");
        }
      }
      return 0;
    }
    if (positional.size() != 1) {
      std::fputs(kUsage, stderr);
      return 2;
    }
    acct.login = positional[0];
    if (cmd == "add") {
      if (!role_given) {
        std::fprintf(stderr, "policyctl: users add needs --role reviewer|admin\n");
        return 2;
      }
      auto pw = read_password(pw_stdin);
      if (!pw) return 2;
      if (want_totp) acct.totp_secret = totp::new_secret_base32();
      users.add(acct, *pw);
      std::printf("added %s (%s)\n", acct.login.c_str(), to_string(acct.role));
      if (want_totp) print_totp(acct.totp_secret, acct.login, cfg.engine.school_name);
      return 0;
    }
    if (cmd == "remove") {
      users.remove(acct.login);
      std::printf("removed %s\n", acct.login.c_str());
      return 0;
    }
    if (cmd == "passwd") {
      auto pw = read_password(pw_stdin);
      if (!pw) return 2;
      users.set_password(acct.login, *pw);
      std::printf("password changed for %s (running sessions end within their idle time)\n", acct.login.c_str());
      return 0;
    }
    if (cmd == "totp") {
      std::string secret = off ? "" : totp::new_secret_base32();
      users.set_totp(acct.login, secret);
      if (off) std::printf("second factor off for %s\n", acct.login.c_str());
      else print_totp(secret, acct.login, cfg.engine.school_name);
      return 0;
    }
  } catch (const AccountError& e) {
    std::fprintf(stderr, "policyctl: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "policyctl: %s\n", e.what());
    return 1;
  }
  std::fputs(kUsage, stderr);
  return 2;
}

}  // namespace pm::cli
