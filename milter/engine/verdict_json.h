// The verdict as JSON: the stable contract of `policyctl scan --json` and of the
// quarantine store (README.md, "The verdict"). nlohmann::json is an implementation detail;
// callers get text.
#pragma once

#include <string>

#include "engine/verdict.h"

namespace pm {

struct JsonOptions {
  bool segments = false;  // include the decoded segments (the quarantine store does)
  bool unapplied = false;
};

// One line, no trailing newline. `file` is emitted first when non-empty.
std::string verdict_to_json(const Verdict& v, const std::string& file, const JsonOptions& opt = {});

}  // namespace pm
