// libFuzzer target for the attachment extractors (issue 11): any bytes, under any of the
// names a sender might give them, through attachments::extract - type detection (libmagic),
// zip/OOXML/ODF, libarchive (tar, 7z, rar, cpio, iso, gzip...), poppler, libfreexl, wvWare,
// CSV/HTML. No crash, no leak, no hang, and the decoded-bytes invariant holds.
//
// The first input byte picks the name (so .docx, .xls, .csv.gz... paths are all reached
// whatever the bytes), the rest is the attachment. The legacy-Office readers run in their
// forked child as in production, so a libfreexl/wvWare crash is an "extractor-crash" verdict
// here too (and the run goes on); everything else runs in-process under ASan/UBSan.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "decode/attachments/attachments.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const char* const kNames[] = {"file.bin",    "plan.docx",  "list.xlsx", "talk.pptx",
                                       "letter.odt",  "review.pdf", "pack.zip",  "list.csv",
                                       "page.html",   "class.xls",  "class.doc", "files.tar.gz",
                                       "list.csv.gz", "files.7z",   "files.rar", "fwd.eml"};
  if (size == 0) return 0;
  const std::string name = kNames[data[0] % (sizeof kNames / sizeof kNames[0])];
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  pm::Limits limits;
  limits.max_attachment_bytes = 4u << 20;
  limits.max_archive_bytes = 16u << 20;
  limits.max_archive_members = 200;
  limits.max_decoded_bytes = 8u << 20;
  pm::Deadline deadline;
  pm::attachments::Context ctx{limits, deadline, 0, nullptr};
  pm::DecodedMessage out;
  pm::attachments::extract("attachment:" + name, name, "application/octet-stream", bytes, ctx, out);
  std::size_t total = 0;
  for (const pm::Segment& s : out.segments) total += s.text.size();
  if (total != out.decoded_bytes) __builtin_trap();
  return 0;
}
