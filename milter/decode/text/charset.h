// Charset conversion to UTF-8 (ICU converters). Shared by the MIME walk and the
// attachment extractors. Never throws: undecodable bytes become U+FFFD.
#pragma once

#include <string>
#include <string_view>

namespace pm::text {

// Converts `bytes` in the declared `charset` (MIME name, any case: "utf-8",
// "windows-1252", "iso-8859-15", "us-ascii", ...). An empty or unknown charset is treated
// as: valid UTF-8 stays UTF-8, anything else is windows-1252 (what mail clients do).
std::string to_utf8(std::string_view bytes, std::string_view charset);

// For undeclared text (CSV/TXT attachments): honours a BOM (UTF-8/16LE/16BE), keeps valid
// UTF-8, otherwise windows-1252. The BOM is removed.
std::string detect_to_utf8(std::string_view bytes);

bool is_valid_utf8(std::string_view s);

// Appends one code point as UTF-8 (shared with the HTML entity decoder).
void append_utf8(std::string& out, char32_t cp);

}  // namespace pm::text
