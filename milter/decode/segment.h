// What the decode pass produces: the message as a list of text segments a person can read.
//
// Every piece of text staff can send - the Subject, display names, each text or HTML body
// part, the link targets of an HTML part, a recognisable signature block, forwarded
// messages and (issue 4) the text of attachments - becomes one Segment in UTF-8. Rules run
// over segments; a finding's start/end are byte offsets into its segment's `text`, which
// is exactly what the review page shows and highlights. Nothing here is normalised: that is
// the match pass's own view, mapped back to these offsets.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace pm {

enum class SegmentKind {
  header,      // Subject, From/To/Cc display names
  body,        // text of a text/plain or text/html part (HTML rendered to text)
  signature,   // a recognisable signature block cut from the end of a body part
  links,       // link targets (href/src) of an HTML part or document, one per line
  attachment,  // text extracted from an attachment (issue 4)
};

const char* to_string(SegmentKind kind);

struct Segment {
  // Where the text came from, stable and readable, e.g. "subject", "body/1 text/plain",
  // "body/1.2 text/html", "body/1.2 text/html links", "signature/1.1",
  // "forward/2 body/1 text/plain", "attachment:pack.zip/list.xlsx#Sheet1".
  std::string origin;
  SegmentKind kind = SegmentKind::body;
  std::string text;  // UTF-8
};

struct AttachmentInfo {
  std::string origin;        // "attachment:plan.docx" or "forward/2 attachment:a.pdf"
  std::string name;          // file name as the sender gave it (RFC 2231/2047 decoded)
  std::string content_type;  // lower case, e.g. "application/pdf"
  std::size_t size = 0;      // decoded bytes
};

// Content the engine could not read: encrypted, password-protected, corrupt, over a limit.
// Not an error: judged as the `unscannable` category.
struct Unscannable {
  std::string origin;
  std::string reason;  // short, no content: "encrypted-zip", "limit:max_mime_depth", ...
};

struct Address {
  std::string display;  // decoded display name (UTF-8), may be empty
  std::string address;  // addr-spec, lower case
};

struct DecodedMessage {
  std::vector<Segment> segments;
  std::vector<AttachmentInfo> attachments;
  std::vector<Unscannable> unscannable;
  // Top-level header fields, decoded (RFC 2047, charsets) - used for the file-scan envelope
  // and for the review page.
  std::vector<Address> from, to, cc, bcc;
  std::string subject;
  std::string message_id;
  std::size_t decoded_bytes = 0;  // sum of segment text sizes (checked against limits)
};

}  // namespace pm
