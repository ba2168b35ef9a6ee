// The decode pass: raw RFC 5322 bytes -> DecodedMessage (segments in UTF-8).
//
// Parses with mimetic behind guards (mimetic crashes on deep nesting and is quadratic on
// huge header lines; see DEPENDENCIES.md): a pre-scan bounds nesting depth and header-line
// length before mimetic sees the bytes, and a limit hit becomes an Unscannable entry, never
// a crash. Undoes base64/quoted-printable, RFC 2047 (B and Q) in Subject and display names,
// declared charsets (to UTF-8, via ICU), HTML (text + every href/src target, entities
// decoded in both), forwarded message/rfc822 parts (also base64 inside), and hands every
// attachment to attachments::extract.
//
// Errors: never throws for bad input; a message that cannot be parsed at all still yields
// whatever could be read plus an Unscannable entry. Thread safety: reentrant (no shared
// state); one call per thread.
#pragma once

#include <string_view>

#include "decode/segment.h"
#include "util/deadline.h"
#include "util/limits.h"

namespace pm {

DecodedMessage decode_message(std::string_view raw, const Limits& limits,
                              const Deadline& deadline = Deadline());

}  // namespace pm
