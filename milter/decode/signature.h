// Where a plain-text signature block starts: after the last "-- " line, or at a sign-off
// line ("Kind regards", "Thanks,", "Sent from my iPhone", ...) among the last 12 non-empty
// lines. The block is scanned like the body (a personal profile in a signature is the
// classic breach); it gets its own segment so the review page can say where it was.
// Pure function, thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace pm::mime {

// Byte offset in `text` (LF line ends) where the signature starts, or npos. Never 0: a
// text that is all sign-off is body.
std::size_t find_plain_signature(std::string_view text);

}  // namespace pm::mime
