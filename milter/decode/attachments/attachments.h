// Attachment extractors (issue 4): one entry point the MIME walk calls for every
// attachment part; it dispatches on type and name to the format readers (OOXML, ODF, PDF,
// CSV/TXT, HTML, zip, message/rfc822) and appends Segments with origins such as
// "attachment:register.zip/SEN.xlsx#Sheet1". What cannot be read becomes an Unscannable
// entry with the reason. Never throws.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "decode/segment.h"
#include "util/deadline.h"
#include "util/limits.h"

namespace pm::attachments {

struct Context {
  const Limits& limits;
  const Deadline& deadline;
  unsigned depth = 0;  // archive / embedded-message nesting so far
  // Decodes an embedded message (.eml, message/rfc822 inside a zip) with the whole engine;
  // `origin_prefix` is prepended to every origin it produces.
  std::function<void(std::string_view raw, const std::string& origin_prefix, unsigned depth,
                     DecodedMessage& out)>
      decode_embedded;
};

// True when the bytes are not text as mail clients send it (over 1 % and more than two
// control bytes in the first 8 KiB): how the MIME walk knows that a part declared text/plain is
// really a file.
bool looks_binary(std::string_view bytes);

// `origin` is the attachment's own origin ("attachment:plan.docx", maybe prefixed for a
// forwarded message). The attachment is always listed in out.attachments by the caller.
void extract(const std::string& origin, const std::string& name, const std::string& content_type,
             std::string_view bytes, Context& ctx, DecodedMessage& out);

}  // namespace pm::attachments
