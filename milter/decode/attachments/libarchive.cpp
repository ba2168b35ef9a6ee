// Every archive that is not a zip (issue 11): tar, cpio, 7z, rar, iso, ar, cab, lha, xar and
// the compressed streams gzip, bzip2, xz, lzma, zstd, lz4, compress (alone or around a tar),
// read with libarchive from memory. Each member is dispatched like an attachment of its
// own ("attachment:lists.tar.gz/Oak class/class_list.csv"); a bare compressed file becomes
// one member named after the attachment without its suffix ("class_list.csv.gz" ->
// "class_list.csv").
//
// The same budget as zip (zip_archive.cpp): depth, members, inflated bytes and the
// inflated/compressed ratio. libarchive does not say how big a member is compressed (7z and
// tar.gz are solid), so the ratio is the whole archive's: bytes inflated from it so far
// against its own size, checked after every block, which stops a gzip bomb after the
// first block past the floor instead of after it has filled memory.
//
// Encrypted entries (7z/rar/zip with a password), an encrypted 7z header, and archives
// libarchive cannot read are unscannable with the reason; never nothing.
#include <archive.h>
#include <archive_entry.h>

#include <memory>
#include <stdexcept>

#include "decode/attachments/internal.h"

namespace pm::attachments::detail {

namespace {

struct ArchiveFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveFree>;

// "lists.tar.gz" -> "lists.tar"; what the single member of a bare compressed stream is.
std::string strip_compression_suffix(const std::string& name) {
  for (const char* s : {".gz", ".tgz", ".bz2", ".tbz", ".tbz2", ".xz", ".txz", ".lzma", ".zst",
                        ".lz4", ".z", ".Z", ".gzip"}) {
    if (ends_with_ci(name, s) && name.size() > std::char_traits<char>::length(s)) {
      std::string base = name.substr(0, name.size() - std::char_traits<char>::length(s));
      if (ends_with_ci(s, "tgz") || ends_with_ci(s, "tbz") || ends_with_ci(s, "tbz2") ||
          ends_with_ci(s, "txz"))
        base += ".tar";
      return base;
    }
  }
  return name.empty() ? "data" : name;  // no suffix to strip: the stream is "the file"
}

bool mentions_encryption(archive* a) {
  const char* msg = archive_error_string(a);
  if (msg == nullptr) return false;
  std::string m = lower(msg);
  return m.find("encrypt") != std::string::npos || m.find("password") != std::string::npos ||
         m.find("passphrase") != std::string::npos;
}

}  // namespace

namespace {

// `raw_only`: read the decompressed stream as one member whatever it holds (the second pass
// of an archive in which no format found a member).
void read_archive(Job& job, const std::string& origin, const std::string& name,
                  std::string_view bytes, unsigned depth, bool raw_only) {
  ArchivePtr a(archive_read_new());
  if (!a) throw std::bad_alloc();
  archive_read_support_filter_all(a.get());
  if (!raw_only) archive_read_support_format_all(a.get());
  // A bare .gz/.bz2/.xz is not an archive format: the raw reader bids lowest, so it only
  // takes the stream when no real format (tar, cpio, ...) recognises what is inside.
  archive_read_support_format_raw(a.get());
  if (archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK) {
    if (mentions_encryption(a.get())) {
      job.unscannable(origin, "encrypted-archive");
      return;
    }
    throw std::runtime_error("libarchive cannot open");
  }
  const Limits& lim = job.limits();
  const std::size_t compressed = bytes.size();
  std::size_t inflated_here = 0;
  auto ratio_exceeded = [&] {
    return inflated_here > kRatioFloor &&
           inflated_here > static_cast<std::size_t>(lim.max_compression_ratio) * (compressed + 1);
  };
  bool any_member = false, any_file = false;
  for (;;) {
    if (job.stopped || job.out_of_time(origin)) return;
    archive_entry* entry = nullptr;
    int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      // An encrypted 7z header cannot even be listed.
      if (mentions_encryption(a.get()) || archive_read_has_encrypted_entries(a.get()) > 0) {
        job.unscannable(origin, "encrypted-archive");
        return;
      }
      if (!any_member) throw std::runtime_error("libarchive cannot list");
      job.unscannable(origin, "corrupt:archive");  // a damaged tail: what was read stands
      return;
    }
    any_member = true;
    const bool raw = archive_format(a.get()) == ARCHIVE_FORMAT_RAW;
    const char* path = archive_entry_pathname_utf8(entry);
    if (path == nullptr) path = archive_entry_pathname(entry);
    std::string member = raw ? strip_compression_suffix(name) : (path ? path : "");
    // Every entry counts, directories too: a tar of a million empty folders is a bomb.
    std::string member_origin = origin + "/" + member;
    if (++job.members > lim.max_archive_members) {
      job.limit(member_origin, "max_archive_members", true);
      return;
    }
    if (archive_entry_filetype(entry) != AE_IFREG || member.empty()) continue;
    any_file = true;
    if (archive_entry_is_encrypted(entry)) {
      job.unscannable(member_origin, "encrypted-archive");
      continue;
    }
    std::string data;
    // Over max_attachment_bytes (declared now, or found while reading): not kept, but still
    // drained under the checks below rather than skipped - libarchive's skip inflates a
    // compressed stream too, unchecked.
    bool skip = false;
    if (archive_entry_size_is_set(entry) &&
        static_cast<std::uint64_t>(archive_entry_size(entry)) > lim.max_attachment_bytes) {
      job.limit(member_origin, "max_attachment_bytes", false);
      skip = true;
    }
    char buf[64 * 1024];
    for (unsigned chunk = 0;; ++chunk) {
      la_ssize_t n = archive_read_data(a.get(), buf, sizeof buf);
      if (n == 0) break;
      if (n < 0) {
        job.unscannable(member_origin,
                        mentions_encryption(a.get()) ? "encrypted-archive" : "corrupt:archive");
        skip = true;
        break;
      }
      inflated_here += static_cast<std::size_t>(n);
      job.inflated += static_cast<std::size_t>(n);
      if (ratio_exceeded()) {
        job.limit(member_origin, "max_compression_ratio", true);
        return;
      }
      if (job.inflated > lim.max_archive_bytes) {
        job.limit(member_origin, "max_archive_bytes", true);
        return;
      }
      if (chunk % 64 == 63 && job.out_of_time(member_origin)) return;
      if (skip) continue;
      if (data.size() + static_cast<std::size_t>(n) > lim.max_attachment_bytes) {
        job.limit(member_origin, "max_attachment_bytes", false);
        skip = true;
        data.clear();
        data.shrink_to_fit();
        continue;
      }
      data.append(buf, static_cast<std::size_t>(n));
    }
    if (skip) continue;
    std::string base = member.substr(member.rfind('/') + 1);
    dispatch(job, member_origin, base, "", data, depth + 1);
  }
  // A 7z whose every entry is encrypted lists fine and reads nothing: say so.
  if (archive_read_has_encrypted_entries(a.get()) > 0) {
    job.unscannable(origin, "encrypted-archive");
    return;
  }
  if (any_file || job.stopped) return;
  // No file at all. A gzip of zeros reads as an empty tar (two zero blocks end a tar), and
  // so would a class list behind 1 KiB of zeros: read the decompressed stream itself.
  // Without a compression layer there is nothing more to undo.
  if (!raw_only && archive_filter_count(a.get()) > 1) {
    a.reset();
    read_archive(job, origin, name, bytes, depth, true);
    return;
  }
  job.unscannable(origin, "empty-archive");
}

}  // namespace

void read_archive(Job& job, const std::string& origin, const std::string& name,
                  std::string_view bytes, unsigned depth) {
  if (depth >= job.limits().max_archive_depth) {
    job.limit(origin, "max_archive_depth", false);
    return;
  }
  read_archive(job, origin, name, bytes, depth, false);
}

}  // namespace pm::attachments::detail
