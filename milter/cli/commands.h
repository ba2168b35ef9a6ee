// policyctl subcommands. Each takes the arguments after its name and returns the exit
// status: 0 success, 1 a failure the admin must look at (a file that could not be read, a
// rule example that failed), 2 bad usage or configuration.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace pm::cli {

using Args = std::vector<std::string>;

int scan(const std::filesystem::path& config, const Args& args);
int rules(const std::filesystem::path& config, const Args& args);

}  // namespace pm::cli
