// policyctl - the IT admin's command line for policy-milter.
//
// Reads as the program's table of contents: parse the global options, dispatch to a
// subcommand in commands.h.
#include <cstdio>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "cli/review_commands.h"
#include "daemon/control.h"
#include "engine/config.h"
#include "util/log.h"

namespace {

const char* const kUsage = R"(usage: policyctl [--config FILE] COMMAND [ARGS]

Tests mail against the school's policy the way the milter does, and checks the rules.

commands:
  scan [--json [--summary]] [--explain] [--segments] [--recursive] [--from ADDR] [--rcpt ADDR]... PATH...
        Scan messages: a message file ("-" reads standard input), an mbox (each message
        FILE#N), a Maildir (cur/ and new/) or a directory of message files (subdirectories
        with --recursive). An empty file, binary data, text without a mail header or a
        directory with no message is an error. Recipients are --rcpt if given, else
        To + Cc + Bcc; the sender is --from (named on stderr when the milter would not
        filter it), else From. Prints one line per message and, after several, a summary
        (per action, per category); --json one JSON object per message per line (--summary:
        and a last summary line); --explain which rule fired where, its clause once and
        every piece of evidence; --segments the decoded text the rules saw.
        Exit status: 0 all accepted, 3 worst tagged, 4 some held, 1 a path not scanned.
  config check [--config FILE]
        Check everything the daemon and the review page read: every table and key of the
        configuration against its schema (unknown names with the nearest valid one, types,
        ranges, choices, networks), then the rules as `rules check` does; file:line: message.
  rules check
        Compile every rule (the school's local_dir files too, and what they changed), run
        every rule's examples; errors as file:line: message.
  rules list
        One line per rule: id, category, anchor, weight.
  status [--json]
        Is the daemon up, which rules snapshot it runs, messages by action, latency
        percentiles since start; the quarantine's health: stopped (corrupt index), message
        files in no index, held mail without its file (exit 0 up, 1 down, stale or the
        quarantine needs the admin). --json: one object, the daemon's figures with "state"
        (up, stale, down) and the store's health under "store".
  quarantine list|show|release|refuse|delete|purge|notify [ARGS]
        Held mail for the IT admin (--json on list and show): list [--status S] [--category C]
        [--sender S], show ID [--raw: the stored bytes], release ID [--to ADDR]..., refuse ID
        [--note TEXT], delete ID, purge (retention now), notify [--digest]. Every change is
        audited.
  store backup FILE | store restore FILE [--force]
        The quarantine and the review accounts in one tar.gz, taken while the milter runs;
        restore refuses a store holding mail or a running milter unless --force.
  store migrate | migrate-from-sqlite [--from DIR]
        The PostgreSQL quarantine ([quarantine] backend = "postgresql"): apply its schema
        migrations; copy an SQLite quarantine (index, messages, audit) into it (re-running
        adds nothing).
  users add LOGIN --role reviewer|admin|dpo|it-admin [--email ADDR] [--categories a,b]
        [--school ID]... [--totp]
  users set LOGIN [--school ID]... [--role ROLE] [--duties a,b]
  users remove LOGIN | passwd LOGIN | totp LOGIN [--off] | list [--json]
        Accounts of the review page (Argon2id passwords, optional TOTP second factor);
        with [[schools]], the schools each reviews (dpo and it-admin: every school).
  exceptions proposed
        The exceptions reviewers' "not a violation" decisions propose, printed as
        [[exceptions.rule]] tables to check and add to the configuration.
  reload
        Ask the running daemon to recompile rules and configuration (SIGHUP) and wait for
        its answer; a broken rule is refused with file:line and the old rules keep running.
  version
        The version (also --version).

options:
  --config FILE   configuration (default: ./conf/policy-milter.toml when run from a checkout,
                  else /etc/policy-milter/policy-milter.toml)
  -h, --help      this help
  -V, --version   the version

exit status:
  0  ok (status: the daemon is up)
  1  a path could not be scanned or a rule or configuration check failed; status: the
     daemon is down or its
     stats are stale; reload: the daemon refused the new rules (the old ones keep running);
     quarantine/users: the change failed
  2  usage or configuration error
  3  scan: the worst verdict is tag; reload: policy-milter is not running, or cannot be
     signalled
  4  scan: some message would be held; reload: no answer from policy-milter in time
)";

}  // namespace

int main(int argc, char** argv) {
  pm::logging::setup("policyctl", pm::logging::Kind::tool);
  std::filesystem::path config;
  int i = 1;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help" || a == "help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "-V" || a == "--version" || a == "version") {
      std::printf("policyctl %s\n", pm::logging::version());
      return 0;
    } else if (a == "--config" && i + 1 < argc) {
      config = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      config = a.substr(9);
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "policyctl: unknown option %s (see policyctl --help)\n", a.c_str());
      return 2;
    } else {
      break;
    }
  }
  if (i >= argc) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (config.empty()) {
    config = pm::default_config_path();
    std::error_code ec;
    // A subcommand's --help answers without a configuration (a fresh install has none yet).
    bool asks_help = false;
    for (int j = i + 1; j < argc; ++j)
      asks_help = asks_help || !std::strcmp(argv[j], "--help") || !std::strcmp(argv[j], "-h");
    if (!std::filesystem::exists(config, ec) && std::string(argv[i]) != "help" && !asks_help) {
      std::fprintf(stderr,
                   "policyctl: no configuration at %s (run from the repository root, or pass "
                   "--config FILE)\n",
                   config.c_str());
      return 2;
    }
  }
  std::string cmd = argv[i++];
  pm::cli::Args args(argv + i, argv + argc);
  if (cmd == "scan") return pm::cli::scan(config, args);
  if (cmd == "rules") return pm::cli::rules(config, args);
  if (cmd == "config") return pm::cli::config(config, args);
  if (cmd == "status") {
    bool json = args.size() == 1 && args[0] == "--json";
    if (!args.empty() && !json) {
      std::fprintf(stderr, "usage: policyctl status [--json]\n");
      return 2;
    }
    if (json) {
      // One JSON object: the daemon's figures (or its state when down) and the store's.
      std::ostringstream daemon;
      int rc = pm::policyctl_status(config, daemon, std::cerr, true);
      if (rc == 2) return rc;  // a configuration error, reported
      pm::cli::review_warnings(config, std::cerr);
      auto all = nlohmann::json::parse(daemon.str(), nullptr, false);
      if (!all.is_object()) all = nlohmann::json{{"state", "unknown"}};
      nlohmann::json store;
      int store_rc = pm::cli::store_status(config, std::cout, &store);
      if (!store.is_null()) all["store"] = std::move(store);
      std::cout << all.dump(2) << "\n";
      return rc != 0 ? rc : store_rc;
    }
    int rc = pm::policyctl_status(config, std::cout, std::cerr, false);
    pm::cli::review_warnings(config, std::cerr);
    int store = pm::cli::store_status(config, std::cout);  // the quarantine's health
    return rc != 0 ? rc : store;
  }
  if (cmd == "reload") return pm::policyctl_reload(config, std::cout, std::cerr);
  if (cmd == "quarantine") return pm::cli::quarantine(config, args);
  if (cmd == "users") return pm::cli::users(config, args);
  if (cmd == "store") {
    // backup / restore (both backends' index: the SQLite store), migrate / migrate-from-sqlite
    // (the PostgreSQL store's schema).
    const std::string sub = args.empty() ? "" : args.front();
    if (sub == "migrate" || sub == "migrate-from-sqlite")
      return pm::cli::store_schema(config, args);
    return pm::cli::store(config, args);
  }
  if (cmd == "exceptions") return pm::cli::exceptions(config, args);
  std::fprintf(stderr, "policyctl: unknown command '%s' (see policyctl --help)\n", cmd.c_str());
  return 2;
}
