// Shared plumbing of the attachment extractors (not a public header: only the files in this
// folder include it).
//
// One Job exists per top-level attachments::extract call. It carries the limits, the
// deadline, the budget already spent by nested archives (members opened, bytes inflated),
// and writes Segments / Unscannable entries into the caller's DecodedMessage. Readers call
// `dispatch` for every nested file (a zip member, a docx in a zip) with depth + 1, so one
// budget covers the whole tree of one attachment: that is what stops a 42.zip.
//
// Errors: readers report problems through Job (unscannable/limit), and may throw
// std::exception for "this file is corrupt"; extract() catches at the top.
// Thread safety: a Job belongs to one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "decode/attachments/attachments.h"

namespace pm::attachments::detail {

enum class Format {
  ooxml_docx,
  ooxml_xlsx,
  ooxml_pptx,
  odf,
  zip,
  archive,
  pdf,
  ole,
  html,
  text,
  eml,
  text_message,  // undeclared text that starts like a message: read as text and as mail
  smime,
  pgp,
  media,
  empty,
  unknown,
};

// Tiny members compress arbitrarily well (an empty XML part, a run of spaces) and cannot
// exhaust anything, so the compression-ratio test starts above this many inflated bytes;
// the byte budget covers sums.
constexpr std::uint64_t kRatioFloor = 1u << 20;

struct Job {
  Context& ctx;
  DecodedMessage& out;
  std::size_t inflated = 0;       // bytes inflated from all archives of this attachment
  unsigned members = 0;           // archive members opened, all levels
  bool stopped = false;           // a job-wide limit was hit: read nothing more
  std::set<std::string> reasons;  // each reason is recorded once per attachment

  const Limits& limits() const { return ctx.limits; }

  // Appends a segment unless it is blank; keeps out.decoded_bytes and the decoded-bytes
  // limit in step.
  void emit(const std::string& origin, SegmentKind kind, std::string text);
  // Links one per line, de-duplicated, in first-seen order, as a `links` segment.
  void emit_links(const std::string& origin, const std::vector<std::string>& links);
  // Records an Unscannable entry (once per reason for this attachment).
  void unscannable(const std::string& origin, const std::string& reason);
  // "limit:<name>"; the job-wide limits also stop the whole job.
  void limit(const std::string& origin, const char* name, bool stop_job);
  // True (after recording limit:scan_time_budget_ms) when the deadline has passed.
  bool out_of_time(const std::string& origin);
};

// Reads one file of any format, recursing into archives. `depth` is the archive /
// embedded-message nesting of this file.
void dispatch(Job& job, const std::string& origin, const std::string& name,
              const std::string& content_type, std::string_view bytes, unsigned depth);

// The format of a file from its bytes (own signatures, then libmagic); the name and the
// declared type only refine text (html, eml, csv) and name a corrupt file.
Format detect(std::string_view bytes, const std::string& name, const std::string& content_type);
// libmagic's MIME type of the bytes ("application/gzip"); thread-safe (magic.cpp).
std::string magic_mime(std::string_view bytes);

// Format readers. `depth` as for dispatch. They may throw std::exception on corrupt input.
void read_zip(Job& job, const std::string& origin, std::string_view bytes, unsigned depth);
void read_ooxml(Job& job, Format format, const std::string& origin, std::string_view bytes,
                unsigned depth);
void read_odf(Job& job, const std::string& origin, std::string_view bytes, unsigned depth);
void read_pdf(Job& job, const std::string& origin, std::string_view bytes);
// tar, cpio, 7z, rar, iso, ... and bare gzip/bzip2/xz/zstd streams (libarchive); `name` is
// the archive's file name (a bare stream's one member is named after it).
void read_archive(Job& job, const std::string& origin, const std::string& name,
                  std::string_view bytes, unsigned depth);
// Legacy OLE Office files: .xls (libfreexl), .doc (wvWare), each in a limited child.
void read_ole(Job& job, const std::string& origin, std::string_view bytes);

// "w:p" -> "p": Office files use conventional prefixes, but any prefix is legal.
inline std::string_view local_name(const char* qname) {
  std::string_view n(qname);
  auto colon = n.find(':');
  return colon == std::string_view::npos ? n : n.substr(colon + 1);
}

std::string lower(std::string_view s);
bool ends_with_ci(std::string_view s, std::string_view suffix);
// Trims trailing spaces/tabs on every line and drops blank lines at the ends.
std::string tidy(std::string text);

}  // namespace pm::attachments::detail
