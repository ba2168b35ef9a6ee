// printable(): a user-supplied value made safe for a log line or an admin's terminal.
//
// Control characters (C0, DEL, the C1 range U+0080-U+009F) and the Unicode bidi overrides
// and isolates (U+202A-U+202E, U+2066-U+2069) become visible escapes (\n, \r, \t, \e,
// \xNN, \u{...}), so a Subject or a login cannot forge a log line, move the cursor, recolour
// the terminal or reorder what the admin reads. Bytes that are not valid UTF-8 become
// \xNN. At most `max_bytes` of the input are kept ("..." marks the cut), so a 200 KB login
// makes a short line. Used by the review service's logs and every human-readable output
// of policyctl.
// Errors: none. Thread safety: pure function.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace pm {

inline constexpr std::size_t kNoLimit = static_cast<std::size_t>(-1);

std::string printable(std::string_view s, std::size_t max_bytes = kNoLimit);
// The same, keeping line breaks (\n) and tabs: for multi-line text shown as it reads
// (e.g. `policyctl scan --segments`). CR and every other control are still escaped.
std::string printable_text(std::string_view s);

// For log lines: printable() and cut at 80 bytes.
inline std::string log_value(std::string_view s) {
  return printable(s, 80);
}

}  // namespace pm
