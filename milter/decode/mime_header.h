// Structured MIME header values, parsed by hand rather than by mimetic: mimetic's
// parameter parser knows neither RFC 2231 (continuations, charset'lang'value) nor RFC 2047
// inside quoted file names, and its non-const getters write into the header.
// Pure functions, thread-safe, never throw except std::bad_alloc.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "decode/segment.h"

namespace pm::mime {

// "type/subtype; a=b; name*0*=utf-8''x; name*1=y" - also Content-Disposition (then `type`
// holds the disposition and `subtype` is empty).
struct HeaderValue {
  std::string type;     // lower case; empty if absent
  std::string subtype;  // lower case
  // Lower-case parameter names; RFC 2231 continuations joined and charset-decoded to
  // UTF-8; RFC 2047 words in quoted values decoded.
  std::vector<std::pair<std::string, std::string>> params;
  const std::string* param(std::string_view name) const;
};

HeaderValue parse_header_value(std::string_view value, bool has_subtype);

// Parses an address list (From/To/Cc/Bcc): quoted and encoded display names, comments,
// groups. Addresses are lower-cased; entries without an addr-spec are skipped.
std::vector<Address> parse_address_list(std::string_view value);

}  // namespace pm::mime
