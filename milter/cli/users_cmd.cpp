// policyctl users: reviewer accounts for policy-review (review/accounts.h).
#include <termios.h>
#include <unistd.h>

#include <cstdio>
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
