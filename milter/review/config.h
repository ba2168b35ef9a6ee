// policy-review's configuration: the [review] table of policy-milter.toml (documented key
// by key in conf/policy-milter.toml), plus what it shares with the milter: [quarantine]
// dir and the school's domains (recipient classes for "why this recipient matters").
//
// Errors: ConfigError with file:line. Immutable once loaded.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "engine/config.h"
#include "notify/smtp.h"

namespace pm {

// Who reviews a held message. The first route whose categories and terms match decides:
// only `reviewers` may see and decide it, and never anyone in `exclude` (a complaint about
// the head teacher goes to the chair of governors, not to the head). Unrouted mail goes to
// every account whose category scope covers one of its categories.
struct ReviewRoute {
  std::string name;
  std::vector<std::string> categories;  // any of these; empty = any category
  std::vector<std::string> terms;       // any of these, case-insensitive, in the decoded text
  std::vector<std::string> reviewers;   // logins
  std::vector<std::string> exclude;     // logins
};

struct ReviewConfig {
  std::filesystem::path file;
  std::string listen_host = "127.0.0.1";
  int listen_port = 8025;
  std::string public_url;  // in notices; default http://listen/
  int session_minutes = 30;
  int held_days = 14;      // undecided held mail is refused after this many days
  int decided_days = 30;   // released/refused mail is purged after this many days
  bool digest = false;     // reviewer notices: false = one per message, true = a digest
  int digest_minutes = 240;
  SmtpEndpoint reinject{"127.0.0.1", 10026};
  std::string notice_from = "mail-policy@localhost";
  std::string reviewer_title = "the head teacher";
  std::filesystem::path users_db = "/var/lib/policy-review/users.sqlite";
  std::filesystem::path tls_cert, tls_key;  // both set: serve HTTPS
  int signin_attempts = 5;
  int signin_lockout_minutes = 15;
  std::vector<ReviewRoute> routes;
  std::filesystem::path quarantine_dir = "/var/lib/policy-milter/quarantine";
  Config engine;  // [school], [recipients]: names and recipient classes
};

ReviewConfig load_review_config(const std::filesystem::path& file);

}  // namespace pm
