// policyctl config check [--config FILE]: one command checks everything the daemon and the
// review page read - the configuration against its schema (every problem, not only the
// first), what each program's reader refuses on top (a staff domain, both TLS files, a
// route's reviewers, [actions] for every category), and the rules with their examples.
#include <spdlog/spdlog.h>

#include <cstdio>

#include "cli/commands.h"
#include "config/check.h"
#include "daemon/config.h"
#include "engine/engine.h"
#include "review/config.h"
#include "util/error.h"

namespace pm::cli {

int config(const std::filesystem::path& config_in, const Args& args) {
  std::filesystem::path file = config_in;
  bool usage = args.empty() || args[0] != "check";
  for (std::size_t i = 1; i < args.size() && !usage; ++i) {
    if (args[i] == "--config" && i + 1 < args.size())
      file = args[++i];
    else
      usage = true;
  }
  if (usage || wants_help(args)) {
    std::fputs(
        "usage: policyctl config check [--config FILE]\n"
        "  every table and key the daemon and the review page read, against the schema\n"
        "  (file:line, the nearest valid name, types, ranges, choices), then the rules\n",
        usage && !wants_help(args) ? stderr : stdout);
    return wants_help(args) ? 0 : 2;
  }
  std::size_t errors = 0, warnings = 0;
  for (const auto& p : config::check_file(file)) {
    std::fprintf(stderr, "%s\n", p.text().c_str());
    ++(p.warning ? warnings : errors);
  }
  int rules_status = 0;
  if (errors == 0) {
    // Each program's reader, as it will read the file at start and on reload. Their own
    // warnings (renamed keys) were printed above already.
    spdlog::set_level(spdlog::level::err);
    auto reader = [&](const char* who, auto load) {
      try {
        load();
      } catch (const ConfigError& e) {
        std::fprintf(stderr, "%s (%s)\n", e.what(), who);
        ++errors;
      } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s (%s)\n", file.c_str(), e.what(), who);
        ++errors;
      }
    };
    reader("policy-milter", [&] { load_daemon_config(file); });
    reader("policy-review", [&] { load_review_config(file); });
    reader("rules", [&] { rules_status = check_rules(*Engine::load(file)); });
  }
  std::printf("%s: %zu error(s), %zu warning(s)%s\n", file.c_str(), errors, warnings,
              errors == 0 && rules_status == 0 ? ": ok" : "");
  return errors == 0 && rules_status == 0 ? 0 : 1;
}

}  // namespace pm::cli
