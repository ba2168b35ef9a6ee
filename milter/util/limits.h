// Limits against hostile or oversized mail.
//
// Every bound the decoder and the extractors apply is a named setting here, loaded from the
// [limits] table of policy-milter.toml. Hitting a limit is never an engine error: the
// decoder stops descending, records an `unscannable` finding with the limit's name as the
// reason, and the policy decides (tag internally, quarantine outside). That is what keeps a
// hostile message from bouncing between retries forever.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pm {

struct Limits {
  // Whole message as received; bigger mail is not decoded at all (unscannable).
  std::size_t max_message_bytes = 64u << 20;
  // One header line (with its folded continuations). mimetic grows its buffer 128 bytes
  // at a time, so a 10 MB line costs it 90 s; longer lines are cut before parsing.
  std::size_t max_header_line_bytes = 256u << 10;
  // Nesting of multipart and message/rfc822 together. mimetic recurses per level and
  // overflows the stack near 47,000 levels; real mail rarely nests beyond 6.
  unsigned max_mime_depth = 40;
  // MIME parts walked in one message (a flat multipart can have millions).
  unsigned max_parts = 2000;
  // Total decoded text handed to the matcher, summed over segments.
  std::size_t max_decoded_bytes = 64u << 20;
  // Attachments: bytes of one attachment that an extractor will open.
  std::size_t max_attachment_bytes = 32u << 20;
  // Archives (zip and the zip inside OOXML/ODF): nesting, members, inflated bytes and the
  // inflated/compressed ratio that marks a zip bomb.
  unsigned max_archive_depth = 4;
  unsigned max_archive_members = 2000;
  std::size_t max_archive_bytes = 200u << 20;
  unsigned max_compression_ratio = 200;
  // Spreadsheet sheets are read as a stream; every this many bytes of rows become one
  // segment, so a sheet's memory is bounded by this, not by the sheet.
  std::size_t sheet_segment_bytes = 1u << 20;
  // Legacy Office readers (libfreexl, wvWare) run in a forked child: memory it may use
  // above what it inherits, and the wall-clock time it gets, before the attachment is
  // unscannable (a BIFF file can declare 16 million cells per sheet).
  std::size_t extractor_memory_bytes = 256u << 20;
  unsigned extractor_timeout_ms = 10000;
  // Wall-clock budget for decoding one message, in milliseconds.
  unsigned scan_time_budget_ms = 20000;
};

}  // namespace pm
