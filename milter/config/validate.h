// The readers' side of the schema: check a parsed configuration before reading a value.
// Include only where toml++ is already used (engine, daemon, review configuration).
//
// Errors: validate() throws ConfigError (file:line) for the first error check() finds;
// warnings (renamed keys) are left to the reader that reads them.
#pragma once

#include <toml++/toml.h>

#include <string>
#include <vector>

#include "config/check.h"

namespace pm::config {

std::vector<Problem> check(const toml::table& root, const std::string& file);
void validate(const toml::table& root, const std::string& file);

}  // namespace pm::config
