// The engine's configuration (policy-milter.toml: [school], [recipients], [rules],
// [actions], [limits]). The daemon's own sections ([milter], [quarantine]) are read by the
// daemon. Relative paths are resolved against the configuration file's directory.
//
// Errors: load_config throws ConfigError with file:line. Immutable once loaded.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "policy/action.h"
#include "policy/exceptions.h"
#include "policy/recipients.h"
#include "util/limits.h"

namespace pm {

struct ActionCells {
  Action internal = Action::accept;
  Action outside = Action::quarantine;
  int line = 0;  // in the configuration file
};

// One school of the configuration ([[schools]], README.md "Several schools in one
// configuration"). Without [[schools]] there is one, from [school], with id "".
// Each key a [[schools]] table omits takes [school]'s value.
struct SchoolConfig {
  std::string id;  // ^[a-z0-9][a-z0-9-]{0,31}$; in the verdict and the log
  std::string name;
  int line = 0;              // of its [[schools]] table (0: [school])
  RecipientDomains domains;  // staff / pupil / partner / outside_lists; webmail from [recipients]
  std::vector<std::string> website, official_social, whistleblowing_domains;
  std::filesystem::path roster, parent_contacts;
};

struct Config {
  std::filesystem::path file;
  // [school] (the single school, and the shared defaults of [[schools]]).
  std::string school_name;
  RecipientDomains domains;
  std::vector<std::string> website;          // school web hosts
  std::vector<std::string> official_social;  // host/path of the school's own accounts
  std::vector<std::string> whistleblowing_domains;
  std::filesystem::path roster;  // empty: none
  // The MIS's parent-contacts export (policy/parent_contacts.h); empty: none.
  std::filesystem::path parent_contacts;
  // This many outside addresses (personal webmail or other outside domains, not partners)
  // in To + Cc disclose each other's addresses - personal data - to every recipient
  // ([recipients] disclosed_addresses; 0: off). Bcc discloses nothing.
  unsigned disclosed_addresses = 4;
  std::filesystem::path rules_dir;
  // [rules] local_dir: the school's own rule files (match/rules.h, "Local rules").
  std::filesystem::path local_dir;
  bool local_dir_required = false;  // named in the file (then it must exist)
  int local_dir_line = 0;
  std::filesystem::path cache_dir;  // compiled-rules cache ([milter].cache_dir); may be empty
  std::map<std::string, ActionCells> actions;
  // A lookalike recipient and no category ([actions] misaddress): "hold" (= quarantine,
  // for that recipient only; the sender is told at once) or "tag".
  Action misaddress = Action::quarantine;
  // Issue 13 ([exceptions], [actions] mode, per-category mode): config_exceptions.cpp.
  ExceptionSet exceptions;
  std::filesystem::path staff_roles;  // [exceptions] staff_roles; empty: none
  // Monitor mode: scan, log and count, deliver untouched. `monitor_all`: [actions] mode =
  // "monitor"; `monitor_categories`: categories whose cell says mode = "monitor".
  bool monitor_all = false;
  std::vector<std::string> monitor_categories;
  Limits limits;
  // [trust] and [[schools]]: `schools` always holds at least one school (schools[0] is
  // [school] itself when there is no [[schools]]); `trust` is true when [[schools]] is set.
  bool trust = false;
  std::string trust_name;
  RecipientClass other_school_colleague = RecipientClass::internal;  // or external
  std::vector<SchoolConfig> schools;
  std::string raw;  // file content, part of the snapshot id
};

Config load_config(const std::filesystem::path& file);

// The school of that id (Verdict::school); the first school for an id of none (so "" with
// one school is [school]).
const SchoolConfig& school_of(const Config& c, std::string_view id);

// Where policyctl and policy-milter look when --config is not given: ./conf/policy-milter.toml
// when it exists (running from a checkout), else /etc/policy-milter/policy-milter.toml.
std::filesystem::path default_config_path();

}  // namespace pm
