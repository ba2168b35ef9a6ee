// The guard in front of mimetic (DEPENDENCIES.md): mimetic recurses once per nesting level
// and overflows the stack near 47,000 levels, and grows a header buffer 128 bytes at a
// time (a 10 MB header line costs 90 s). One linear pass over the raw bytes models what
// mimetic will build - header blocks, boundaries (prefix match, as mimetic does; a
// multipart without a boundary splits at every "--" line), message/rfc822 children - and
// returns the bytes mimetic may safely see:
//  - a header line (with its folds) longer than max_header_line_bytes is cut;
//  - the message is cut where nesting would exceed the depth budget, or where the number
//    of multipart/message Content-Type lines (a model-independent bound on nesting)
//    exceeds max_parts;
//  - NULs in header lines become spaces (mimetic cuts the value at a NUL); a final line
//    end is added (mimetic drops a last header line without one);
//  - a message/rfc822 part with a base64/QP transfer encoding is renamed
//    message/x-pm-encoded-rfc822, so mimetic keeps its bytes instead of parsing the
//    encoded text as headers (the walk decodes it and parses it itself).
// Pure function, thread-safe; throws only std::bad_alloc.
#pragma once

#include <string>
#include <string_view>

#include "util/limits.h"

namespace pm::mime {

inline constexpr std::string_view kEncodedRfc822Subtype = "x-pm-encoded-rfc822";

struct Prescan {
  std::string copy;      // the edited bytes, when `edited`
  bool edited = false;   // false: the raw bytes are safe as they are
  bool header_line_cut = false;
  bool depth_cut = false;
  bool parts_cut = false;
  std::string_view safe(std::string_view raw) const { return edited ? std::string_view(copy) : raw; }
};

Prescan prescan(std::string_view raw, const Limits& limits, unsigned depth_budget);

// Offset just past the top-level header block (after its empty line), or raw.size().
std::size_t header_block_end(std::string_view raw);

}  // namespace pm::mime
