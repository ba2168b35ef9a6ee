// policyctl exceptions proposed: the exceptions reviewers' "not a violation" decisions
// propose, printed as [[exceptions.rule]] tables ready to paste into policy-milter.toml
// (issue 13). Nothing changes until the admin adds one and reloads.
#include <cstdio>
#include <iostream>

#include "cli/review_commands.h"
#include "review/service.h"
#include "util/printable.h"

namespace pm::cli {

namespace {
const char* const kUsage =
    "usage: policyctl exceptions proposed   print the exceptions proposed by \"not a violation\"\n"
    "                                       decisions as configuration to review and apply\n";
}

int exceptions(const std::filesystem::path& config, const Args& args) {
  ReviewConfig cfg;
  if (auto rc = help_or_load(kUsage, config, args, cfg)) return *rc;
  if (args.size() != 1 || args[0] != "proposed") {
    std::fputs(kUsage, stderr);
    return 2;
  }
  try {
    QuarantineStore store(cfg.quarantine_dir);
    UserStore users(cfg.users_db);
    ReviewService svc(cfg, store, users);
    std::string out = svc.proposed_exceptions(1000);
    if (out.empty()) std::fputs("# no proposed exceptions\n", stdout);
    std::fputs(out.c_str(), stdout);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "policyctl: %s\n", printable(e.what()).c_str());
    return 1;
  }
}

}  // namespace pm::cli
