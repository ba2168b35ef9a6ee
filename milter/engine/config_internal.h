// Private to pm_engine: the part of load_config() that lives in its own file.
#pragma once

#include <toml++/toml.h>

#include <filesystem>
#include <string>

#include "engine/config.h"

namespace pm {

// The issue-13 keys, all read here (config_exceptions.cpp): [exceptions] (staff_roles,
// lists, [[exceptions.rule]]), [actions] mode and misaddress, and each category cell's
// mode. `actions` is the [actions] table or null. Reads the staff roles file. Expired
// exceptions are kept (they are skipped when scanning) and warned about.
// Throws ConfigError(file:line).
void read_exception_keys(const std::string& file, const toml::table& root,
                         const std::filesystem::path& base, Config& c);

// The issue-15 keys ([trust], [[schools]]; config_schools.cpp): fills Config::schools
// (always at least one school), after read_exception_keys (the staff file's school
// column decides shared staff domains). Throws ConfigError(file:line).
void read_school_keys(const std::string& file, const toml::table& root,
                      const std::filesystem::path& base, Config& c);

}  // namespace pm
