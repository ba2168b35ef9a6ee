// policyctl rules check|list (check_rules is shared with `policyctl config check`)
#include <cstdio>

#include "cli/commands.h"
#include "engine/engine.h"
#include "match/matcher.h"
#include "match/rules.h"
#include "util/error.h"

namespace pm::cli {

int rules(const std::filesystem::path& config, const Args& args) {
  std::string sub = args.empty() ? "" : args[0];
  const bool help = wants_help(args);
  if (help || (sub != "check" && sub != "list")) {
    std::fputs(
        "usage: policyctl rules check|list\n"
        "  check  compile every rule (local_dir too) and run every rule's examples\n"
        "  list   one line per rule: id, category, anchor, weight\n",
        help ? stdout : stderr);
    return help ? 0 : 2;
  }
  std::shared_ptr<const Engine> engine;
  try {
    engine = Engine::load(config);
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return sub == "check" ? 1 : 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", config.c_str(), e.what());
    return sub == "check" ? 1 : 2;
  }
  const RuleSet& rs = engine->rules();
  if (sub == "list") {
    for (const Rule& r : rs.rules()) {
      std::string anchor = r.pattern.empty() ? rs.refs()[r.anchor_ref].name : "pattern";
      std::printf("%-45s %-15s %-20s %.2f\n", r.id.c_str(), r.category.c_str(), anchor.c_str(),
                  r.weight);
    }
    return 0;
  }
  return check_rules(*engine);
}

int check_rules(const Engine& engine) {
  const RuleSet& rs = engine.rules();
  // Whole suffixes in the allow list: only restricted-registration ones are accepted (an
  // open one such as org.uk was refused when loading), and they are shown as such.
  for (const auto& s : rs.restricted_allowed())
    std::printf("urls.allow: %s is a whole suffix, allowed as restricted registration\n",
                s.c_str());
  // What the school's local files changed, file:line first, so an admin sees at once which
  // of their files disabled, reweighted, added or extended what.
  for (const auto& c : rs.local_changes())
    std::printf("local: %s:%d: %s\n", c.file.c_str(), c.line, c.what.c_str());
  auto errors = engine.matcher().check_examples();
  for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.c_str());
  std::size_t examples = 0;
  for (const Rule& r : rs.rules()) examples += r.examples_match.size() + r.examples_no_match.size();
  std::printf("%zu rules in %zu categories, %zu patterns compiled, %zu examples: %s\n",
              rs.rules().size(), rs.categories().size(), rs.pattern_count(), examples,
              errors.empty() ? "all pass" : (std::to_string(errors.size()) + " failed").c_str());
  return errors.empty() ? 0 : 1;
}

}  // namespace pm::cli
