// policyctl users: reviewer accounts for policy-review (review/accounts.h).
#include <qrencode.h>
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
#include "util/printable.h"

namespace pm::cli {

namespace {

const char* const kUsage =
    "usage: policyctl users add LOGIN --role reviewer|admin|dpo|it-admin [--email ADDR]\n"
    "                           [--categories a,b] [--duties head-teacher,deputy,chair,...]\n"
    "                           [--school ID]... [--password-stdin]\n"
    "       policyctl users set LOGIN [--school ID]... [--role ROLE] [--duties a,b]\n"
    "       policyctl users remove LOGIN\n"
    "       policyctl users passwd LOGIN [--password-stdin]\n"
    "       policyctl users role LOGIN reviewer|admin|dpo|it-admin\n"
    "       policyctl users duties LOGIN a,b        (\"\" for none)\n"
    "       policyctl users totp LOGIN [--off]\n"
    "       policyctl users list [--json]\n"
    "Without --password-stdin the password is asked for on the terminal (twice).\n"
    "`users totp` shows a QR code and a secret for the authenticator app and switches the\n"
    "second factor on only after one code from the app is typed back. Every change of role,\n"
    "password, second factor, duties or schools, and removal, signs the account out\n"
    "everywhere. With [[schools]] configured, a reviewer or admin reviews the mail of the\n"
    "schools given with --school (repeat it; `set` replaces the list); dpo and it-admin\n"
    "see every school. Without [[schools]] there is one school and --school is refused.\n";

// --school ids against the configuration's [[schools]]: "" when fine, else the problem.
std::string school_problem(const ReviewConfig& cfg, const std::vector<std::string>& ids) {
  if (ids.empty()) return "";
  if (cfg.schools.empty())
    return "--school: no [[schools]] are configured (one school: every account sees it)";
  for (const auto& id : ids)
    if (!cfg.school(id)) {
      std::string known;
      for (const auto& sc : cfg.schools) known += (known.empty() ? "" : ", ") + sc.id;
      return "--school: no school \"" + printable(id) + "\" in [[schools]] (configured: " + known +
             ")";
    }
  return "";
}

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

struct QrFree {
  void operator()(QRcode* q) const noexcept { QRcode_free(q); }
};

// The QR code of `text` in the terminal: two modules per character cell (upper/lower half
// blocks), with the quiet zone scanners need.
std::string qr_text(const std::string& text) {
  std::unique_ptr<QRcode, QrFree> q(
      QRcode_encodeString(text.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1));
  if (!q) return "";
  const int w = q->width, quiet = 2;
  auto dark = [&](int x, int y) {
    return x >= 0 && y >= 0 && x < w && y < w && (q->data[y * w + x] & 1);
  };
  std::string out;
  for (int y = -quiet; y < w + quiet; y += 2) {
    for (int x = -quiet; x < w + quiet; ++x) {
      bool top = dark(x, y), bottom = dark(x, y + 1);
      // Light modules are drawn (full block), dark ones left blank: works on dark terminals.
      out += !top && !bottom ? "\u2588" : !top ? "\u2580" : !bottom ? "\u2584" : " ";
    }
    out += "\n";
  }
  return out;
}

void print_totp(const std::string& secret, const std::string& login, const std::string& school) {
  std::string uri =
      totp::provisioning_uri(secret, login, school.empty() ? "policy-review" : school);
  std::printf("%s", qr_text(uri).c_str());
  std::printf("Scan the code with an authenticator app, or enter this secret for %s: %s\n",
              printable(login).c_str(), secret.c_str());
}

// Asks for one code from the app: the second factor is switched on only when it matches.
std::optional<std::int64_t> confirm_code(const std::string& secret) {
  std::fprintf(stderr, "Code shown by the app: ");
  std::string code;
  if (!std::getline(std::cin, code)) return std::nullopt;
  while (!code.empty() && (code.back() == '\r' || code.back() == ' ')) code.pop_back();
  auto key = totp::base32_decode(secret);
  return key ? totp::verify_step(*key, code, static_cast<std::int64_t>(std::time(nullptr)))
             : std::nullopt;
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
  bool duties_given = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool has_value = i + 1 < args.size();
    if (a == "--role" && has_value) {
      auto r = parse_role(args[++i]);
      if (!r) {
        std::fprintf(stderr, "policyctl: --role must be reviewer, admin, dpo or it-admin\n");
        return 2;
      }
      acct.role = *r;
      role_given = true;
    } else if (a == "--email" && has_value) {
      acct.email = args[++i];
    } else if (a == "--categories" && has_value) {
      acct.categories = split_commas(args[++i]);
    } else if (a == "--duties" && has_value) {
      acct.duties = split_commas(args[++i]);
      duties_given = true;
    } else if (a == "--school" && has_value) {
      acct.schools.push_back(args[++i]);
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
          std::cout << nlohmann::json{{"login", a.login},
                                      {"role", to_string(a.role)},
                                      {"email", a.email},
                                      {"categories", a.categories},
                                      {"duties", a.duties},
                                      {"schools", a.schools},
                                      {"totp", !a.totp_secret.empty()}}
                           .dump()
                    << "\n";
        } else {
          std::string cats, duties, schools;
          for (const auto& c : a.categories) cats += (cats.empty() ? "" : ",") + c;
          for (const auto& d : a.duties) duties += (duties.empty() ? " duties " : ",") + d;
          if (!cfg.schools.empty())
            schools =
                is_trust_role(a.role) ? std::string(" schools all") : std::string(" schools ");
          if (!cfg.schools.empty() && !is_trust_role(a.role))
            for (std::size_t k = 0; k < a.schools.size(); ++k)
              schools += (k ? "," : "") + a.schools[k];
          std::printf("%-24s %-8s %-32s %s%s%s%s\n", printable(a.login).c_str(), to_string(a.role),
                      printable(a.email).c_str(),
                      cats.empty() ? "all categories" : printable(cats).c_str(),
                      printable(duties).c_str(), printable(schools).c_str(),
                      a.totp_secret.empty() ? "" : " (TOTP)");
        }
      }
      return 0;
    }
    const std::size_t want_args = cmd == "role" || cmd == "duties" ? 2 : 1;
    if (positional.size() != want_args) {
      std::fputs(kUsage, stderr);
      return 2;
    }
    acct.login = positional[0];
    const std::string shown = printable(acct.login);
    if (auto p = school_problem(cfg, acct.schools); !p.empty()) {
      std::fprintf(stderr, "policyctl: %s\n", p.c_str());
      return 2;
    }
    if (cmd == "add") {
      if (!role_given) {
        std::fprintf(stderr, "policyctl: users add needs --role reviewer|admin|dpo|it-admin\n");
        return 2;
      }
      // An account of no school would see nothing: say so now, not on the page.
      if (!cfg.schools.empty() && !is_trust_role(acct.role) && acct.schools.empty()) {
        std::fprintf(stderr,
                     "policyctl: with [[schools]] configured a %s needs --school ID (or the "
                     "role dpo or it-admin, who see every school)\n",
                     to_string(acct.role));
        return 2;
      }
      auto pw = read_password(pw_stdin);
      if (!pw) return 2;
      users.add(acct, *pw);
      std::printf("added %s (%s)\n", shown.c_str(), to_string(acct.role));
      if (want_totp) std::printf("now run: policyctl users totp %s\n", shown.c_str());
      return 0;
    }
    if (cmd == "set") {
      auto current = users.find(acct.login);
      if (!current) throw AccountError("no account " + acct.login);
      if (!role_given && !duties_given && acct.schools.empty()) {
        std::fputs(kUsage, stderr);
        return 2;
      }
      if (role_given) users.set_role(acct.login, acct.role);
      if (duties_given) users.set_duties(acct.login, acct.duties);
      if (!acct.schools.empty()) users.set_schools(acct.login, acct.schools);
      auto now = *users.find(acct.login);
      std::string schools;
      for (const auto& sc : now.schools) schools += (schools.empty() ? "" : ",") + sc;
      std::printf("%s: role %s, schools %s (signed out everywhere)\n", shown.c_str(),
                  to_string(now.role),
                  is_trust_role(now.role) ? "all"
                  : schools.empty()       ? "none"
                                          : schools.c_str());
      return 0;
    }
    if (cmd == "remove") {
      users.remove(acct.login);
      std::printf("removed %s (signed out everywhere)\n", shown.c_str());
      return 0;
    }
    if (cmd == "passwd") {
      auto pw = read_password(pw_stdin);
      if (!pw) return 2;
      users.set_password(acct.login, *pw);
      std::printf("password changed for %s (signed out everywhere)\n", shown.c_str());
      return 0;
    }
    if (cmd == "role") {
      auto r = parse_role(positional[1]);
      if (!r) {
        std::fprintf(stderr, "policyctl: the role is reviewer, admin, dpo or it-admin\n");
        return 2;
      }
      users.set_role(acct.login, *r);
      std::printf("%s is now %s (signed out everywhere)\n", shown.c_str(), to_string(*r));
      return 0;
    }
    if (cmd == "duties") {
      users.set_duties(acct.login, split_commas(positional[1]));
      std::printf("duties of %s: %s\n", shown.c_str(),
                  positional[1].empty() ? "none" : printable(positional[1]).c_str());
      return 0;
    }
    if (cmd == "totp") {
      if (!users.find(acct.login)) throw AccountError("no account " + acct.login);
      if (off) {
        users.set_totp(acct.login, "");
        std::printf("second factor off for %s (signed out everywhere)\n", shown.c_str());
        return 0;
      }
      std::string secret = totp::new_secret_base32();
      print_totp(secret, acct.login, cfg.engine.school_name);
      auto step = confirm_code(secret);
      if (!step) {
        std::fprintf(stderr,
                     "policyctl: that code does not match; the second factor stays as it was\n");
        return 1;
      }
      users.set_totp(acct.login, secret);
      users.accept_totp_step(acct.login, *step);  // the confirming code cannot sign in
      std::printf("second factor on for %s (signed out everywhere)\n", shown.c_str());
      return 0;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "policyctl: %s\n", printable(e.what()).c_str());
    return 1;
  }
  std::fputs(kUsage, stderr);
  return 2;
}

}  // namespace pm::cli
