// policyctl - the IT admin's command line for policy-milter.
//
// Reads as the program's table of contents: parse the global options, dispatch to a
// subcommand in commands.h.
#include <cstdio>
#include <cstring>
#include <iostream>

#include "cli/commands.h"
#include "cli/review_commands.h"
#include "daemon/control.h"
#include "engine/config.h"
#include "util/log.h"

namespace {

const char* const kUsage = R"(usage: policyctl [--config FILE] COMMAND [ARGS]

Tests mail against the school's policy the way the milter does, and checks the rules.

commands:
  scan [--json] [--explain] [--segments] [--from ADDR] [--rcpt ADDR]... FILE...
        Scan messages (.eml, RFC 5322). Recipients are --rcpt if given, else To + Cc + Bcc;
        the sender is --from, else From. Prints one line per file (action, categories), or
        with --json one JSON object per file per line, or with --explain which rule fired
        where, with the evidence in context; --segments also prints the decoded text the
        rules saw. "-" reads standard input.
  rules check
        Compile every rule, run every rule's examples; errors as file:line: message.
  rules list
        One line per rule: id, category, anchor, weight.
  status [--json]
        Is the daemon up, which rules snapshot it runs, messages by action, latency
        percentiles since start; the quarantine's health: stopped (corrupt index), message
        files in no index, held mail without its file (exit 0 up, 1 down, stale or the
        quarantine needs the admin).
  quarantine list|show|release|refuse|delete|purge|notify [ARGS]
        Held mail for the IT admin (--json on list and show): list [--status S] [--category C]
        [--sender S], show ID, release ID [--to ADDR]..., refuse ID [--note TEXT], delete ID,
        purge (retention now), notify [--digest]. Every change is audited.
  store migrate | migrate-from-sqlite [--from DIR]
        The PostgreSQL quarantine ([quarantine] backend = "postgresql"): apply its schema
        migrations; copy an SQLite quarantine (index, messages, audit) into it (re-running
        adds nothing).
  users add LOGIN --role reviewer|admin [--email ADDR] [--categories a,b] [--totp]
  users remove LOGIN | passwd LOGIN | totp LOGIN [--off] | list [--json]
        Accounts of the review page (Argon2id passwords, optional TOTP second factor).
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
  1  a file could not be scanned or a rule check failed; status: the daemon is down or its
     stats are stale; reload: the daemon refused the new rules (the old ones keep running);
     quarantine/users: the change failed
  2  usage or configuration error
  3  reload: policy-milter is not running, or cannot be signalled
  4  reload: no answer from policy-milter in time
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
    if (!std::filesystem::exists(config, ec) && std::string(argv[i]) != "help") {
      std::fprintf(stderr,
                   "policyctl: no configuration at %s (run from the repository root, or pass --config FILE)\n",
                   config.c_str());
      return 2;
    }
  }
  std::string cmd = argv[i++];
  pm::cli::Args args(argv + i, argv + argc);
  if (cmd == "scan") return pm::cli::scan(config, args);
  if (cmd == "rules") return pm::cli::rules(config, args);
  if (cmd == "status") {
    bool json = args.size() == 1 && args[0] == "--json";
    if (!args.empty() && !json) {
      std::fprintf(stderr, "usage: policyctl status [--json]\n");
      return 2;
    }
    int rc = pm::policyctl_status(config, std::cout, std::cerr, json);
    pm::cli::review_warnings(config, std::cerr);
    int store = pm::cli::store_status(config, std::cout, json);  // the quarantine's health
    return rc != 0 ? rc : store;
  }
  if (cmd == "reload") return pm::policyctl_reload(config, std::cout, std::cerr);
  if (cmd == "quarantine") return pm::cli::quarantine(config, args);
  if (cmd == "users") return pm::cli::users(config, args);
  if (cmd == "store") return pm::cli::store_schema(config, args);
  std::fprintf(stderr, "policyctl: unknown command '%s' (see policyctl --help)\n", cmd.c_str());
  return 2;
}
