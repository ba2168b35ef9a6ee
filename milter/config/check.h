// Checking policy-milter.toml against the schema (schema.h): every unknown table or key,
// wrong type, out-of-range value, bad choice, network or endpoint is a Problem with
// file:line, what was expected and, for a misspelt name, the nearest valid one. Renamed and
// retired keys are warnings. `policyctl config check` prints them all; the readers refuse
// the file on the first error (validate.h).
//
// Errors: none thrown; a file that cannot be read or parsed is one Problem.
// Thread safety: pure functions.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace pm::config {

struct Problem {
  std::string file;
  int line = 0;
  bool warning = false;
  std::string message;
  // "file:line: message" (the ConfigError form), "warning: " first for warnings.
  std::string text() const;
};

std::vector<Problem> check_file(const std::filesystem::path& file);

// The closest of `candidates` to `word` (at most 2 edits, and fewer than half the word),
// or "" when none is close: the "did you mean" of every unknown-name message.
std::string nearest(std::string_view word, const std::vector<std::string>& candidates);
// "unknown WHAT 'word'WHERE: did you mean 'x'? (valid: a, b, c)"
std::string unknown(std::string_view what, std::string_view word,
                    const std::vector<std::string>& valid, std::string_view where = "");

}  // namespace pm::config
