// Transfer and header encodings the MIME walk undoes: base64, quoted-printable, RFC 2047
// encoded words. Internal to decode/ (the attachment extractors may use them too).
// All functions are lenient - bad input yields the bytes that could be read - and never
// throw except std::bad_alloc. Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace pm::mime {

// Skips characters outside the alphabet (line breaks, junk) and stops at padding.
std::string base64_decode(std::string_view in);

// Undoes =XX escapes (any case) and soft line breaks ("=" before CRLF/LF, also with
// trailing blanks), so words and URLs split across lines are whole again.
std::string qp_decode(std::string_view in);

// `cte` is the Content-Transfer-Encoding value in any case; unknown values pass through.
std::string decode_transfer(std::string_view body, std::string_view cte);

// Decodes RFC 2047 encoded words (B and Q, any charset, "charset*lang" allowed) in an
// unfolded header value to UTF-8. Whitespace between adjacent encoded words is dropped, and
// their bytes are joined before charset conversion (a character may span two words). Text
// outside encoded words is taken as UTF-8 if valid, else windows-1252.
std::string decode_header_value(std::string_view value);

// Converts CRLF and lone CR line ends to LF in place.
void normalise_newlines(std::string& s);

}  // namespace pm::mime
