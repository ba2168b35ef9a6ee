// Small string helpers shared by every pass (ASCII-only; Unicode work lives in decode/).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pm {

std::string to_lower_ascii(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
bool istarts_with(std::string_view s, std::string_view prefix);
std::string_view trim(std::string_view s);
std::vector<std::string_view> split(std::string_view s, char sep);
// Reads a whole file; throws std::runtime_error("PATH: reason") on failure.
std::string read_file(const std::string& path);

}  // namespace pm
