// The entry point: detect the format (magic bytes first, then name and declared type),
// hand the bytes to its reader, and turn anything unreadable into an Unscannable entry.
#include "decode/attachments/attachments.h"

#include <malloc.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "decode/attachments/internal.h"
#include "decode/attachments/zip_archive.h"
#include "decode/text/charset.h"
#include "decode/text/html.h"

namespace pm::attachments {

namespace {

constexpr std::size_t kTrimAfterBytes = 1u << 20;

// Buffers of a MiB and more (inflated members, a sheet's rows, a large PDF's pages, and the
// engine's copies of them) are then mmapped by glibc, so they go back to the system the
// moment they are freed. By default glibc raises that threshold to the size of every large
// block it frees (up to 32 MiB), after which such buffers live in the heap and the process
// keeps the size of the largest document it ever read (issue 12: 120-165 MB kept after one).
void return_large_buffers_to_the_system() {
  static const bool set = [] { return mallopt(M_MMAP_THRESHOLD, 1 << 20) == 1; }();
  (void)set;
}

// The many small blocks of a large document (4,000 pages of text, the engine's normalised
// copies, a verdict's segments) stay in glibc's heap after they are freed: a daemon that read
// one such document kept ~50 MB more for ever. They are freed only when the caller drops the
// verdict, after this function has returned, so the trim waits for a quiet moment: one
// background thread, woken after every large attachment, calls malloc_trim(0) once no large
// attachment has arrived for kTrimDelay (what jemalloc's background purge does). A trim walks
// the heap (0.1-1 ms), off every scanning thread. The state is never destroyed, so the thread
// may outlive static destruction at exit.
class DeferredTrim {
 public:
  static void after_large_document() {
    static DeferredTrim* const t = new DeferredTrim;  // never freed, see above
    t->poke();
  }

 private:
  static constexpr std::chrono::milliseconds kTrimDelay{500};
  static constexpr std::chrono::milliseconds kTrimWatch{10000};
  static constexpr std::size_t kFreeAfterTrim = 8u << 20;
  DeferredTrim() {
    std::thread([this] { run(); }).detach();
  }
  void poke() {
    {
      std::lock_guard lock(m_);
      due_ = std::chrono::steady_clock::now() + kTrimDelay;
      pending_ = true;
    }
    cv_.notify_one();
  }
  [[noreturn]] void run() {
    std::unique_lock lock(m_);
    for (;;) {
      cv_.wait(lock, [&] { return pending_; });
      // A later large attachment moves the deadline: trim once the burst is over.
      while (cv_.wait_until(lock, due_, [&] { return std::chrono::steady_clock::now() >= due_; }) ==
             false) {
      }
      pending_ = false;
      lock.unlock();
      malloc_trim(0);
      // The verdict that holds the document's segments may be dropped after this trim (a
      // scan still matching, a busy core): while the heap keeps more than kFreeAfterTrim
      // free, look again every kTrimDelay for kTrimWatch (mallinfo2 costs microseconds).
      for (auto k = kTrimWatch / kTrimDelay; k > 0; --k) {
        lock.lock();
        if (cv_.wait_for(lock, kTrimDelay, [&] { return pending_; })) break;  // a new burst
        lock.unlock();
        if (mallinfo2().fordblks > kFreeAfterTrim) malloc_trim(0);
      }
      if (!lock.owns_lock()) lock.lock();
    }
  }
  std::mutex m_;
  std::condition_variable cv_;
  std::chrono::steady_clock::time_point due_{};
  bool pending_ = false;
};

}  // namespace

namespace detail {

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

bool ends_with_ci(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && lower(s.substr(s.size() - suffix.size())) == lower(suffix);
}

std::string tidy(std::string text) {
  std::string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string_view line(text.data() + pos, nl - pos);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r'))
      line.remove_suffix(1);
    if (!line.empty() || (!out.empty() && out.back() != '\n')) {
      out.append(line);
      out.push_back('\n');
    }
    pos = nl + 1;
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

void Job::emit(const std::string& origin, SegmentKind kind, std::string text) {
  text = tidy(std::move(text));
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return;
  if (out.decoded_bytes + text.size() > ctx.limits.max_decoded_bytes) {
    limit(origin, "max_decoded_bytes", true);
    return;
  }
  out.decoded_bytes += text.size();
  out.segments.push_back(Segment{origin, kind, std::move(text)});
}

void Job::emit_links(const std::string& origin, const std::vector<std::string>& links) {
  std::unordered_set<std::string> seen;
  std::string text;
  for (const auto& link : links) {
    if (link.empty() || !seen.insert(link).second) continue;
    text += link;
    text += '\n';
  }
  emit(origin, SegmentKind::links, std::move(text));
}

void Job::unscannable(const std::string& origin, const std::string& reason) {
  // One entry per reason is enough for the verdict; a bomb of 65,536 members must not
  // produce 65,536 findings.
  if (!reasons.insert(reason).second) return;
  out.unscannable.push_back(Unscannable{origin, reason});
}

void Job::limit(const std::string& origin, const char* name, bool stop_job) {
  unscannable(origin, std::string("limit:") + name);
  if (stop_job) stopped = true;
}

bool Job::out_of_time(const std::string& origin) {
  if (stopped) return true;
  if (!ctx.deadline.expired()) return false;
  limit(origin, "scan_time_budget_ms", true);
  return true;
}

namespace {

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

bool any_suffix(const std::string& name, std::initializer_list<const char*> suffixes) {
  return std::any_of(suffixes.begin(), suffixes.end(),
                     [&](const char* s) { return ends_with_ci(name, s); });
}

// Which OOXML / ODF kind a zip is, from its members (the name may lie or be missing).
Format zip_kind(std::string_view bytes) {
  try {
    ZipArchive zip(bytes);
    if (zip.find("word/document.xml")) return Format::ooxml_docx;
    if (zip.find("xl/workbook.xml")) return Format::ooxml_xlsx;
    if (zip.find("ppt/presentation.xml")) return Format::ooxml_pptx;
    if (zip.find("content.xml") && zip.find("mimetype")) return Format::odf;
  } catch (const std::exception&) {
    // not readable: read_zip reports it as corrupt
  }
  return Format::zip;
}

const char* format_name(Format f, const std::string& name) {
  switch (f) {
    case Format::ooxml_docx:
      return "docx";
    case Format::ooxml_xlsx:
      return "xlsx";
    case Format::ooxml_pptx:
      return "pptx";
    case Format::odf:
      return "odf";
    case Format::pdf:
      return "pdf";
    case Format::html:
      return "html";
    case Format::eml:
      return "eml";
    case Format::text:
    case Format::text_message:
      return "text";
    case Format::archive:
      return "archive";
    case Format::ole:
      return "office";
    case Format::zip:
      // A truncated docx is still a docx to the person reading the verdict.
      if (any_suffix(name, {".docx", ".docm", ".dotx"})) return "docx";
      if (any_suffix(name, {".xlsx", ".xlsm", ".xltx"})) return "xlsx";
      if (any_suffix(name, {".pptx", ".pptm", ".potx"})) return "pptx";
      if (any_suffix(name, {".odt", ".ods", ".odp"})) return "odf";
      return "zip";
    default:
      return "file";
  }
}

void read_text(Job& job, const std::string& origin, std::string_view bytes) {
  job.emit(origin, SegmentKind::attachment, text::detect_to_utf8(bytes));
}

void read_html(Job& job, const std::string& origin, std::string_view bytes) {
  text::HtmlText html = text::html_to_text(text::detect_to_utf8(bytes));
  job.emit(origin, SegmentKind::attachment, std::move(html.text));
  job.emit_links(origin + " links", html.links);
}

void read_eml(Job& job, const std::string& origin, std::string_view bytes, unsigned depth) {
  if (!job.ctx.decode_embedded) {  // no engine to recurse into (unit use): read it as text
    read_text(job, origin, bytes);
    return;
  }
  if (depth + 1 > job.limits().max_mime_depth) {
    job.limit(origin, "max_mime_depth", false);
    return;
  }
  job.ctx.decode_embedded(bytes, origin + "/", depth + 1, job.out);
}

}  // namespace

namespace {

bool is_archive_mime(std::string_view m) {
  static const char* const kTypes[] = {"application/x-tar",
                                       "application/gzip",
                                       "application/x-gzip",
                                       "application/x-bzip2",
                                       "application/x-xz",
                                       "application/x-lzma",
                                       "application/zstd",
                                       "application/x-zstd",
                                       "application/x-lz4",
                                       "application/x-compress",
                                       "application/x-7z-compressed",
                                       "application/vnd.rar",
                                       "application/x-rar",
                                       "application/x-rar-compressed",
                                       "application/x-cpio",
                                       "application/x-iso9660-image",
                                       "application/x-archive",
                                       "application/vnd.ms-cab-compressed",
                                       "application/x-lha",
                                       "application/x-lzh-compressed",
                                       "application/x-xar",
                                       "application/x-lzip",
                                       "application/x-lrzip",
                                       "application/x-lzop",
                                       "application/x-ustar",
                                       "application/x-gtar"};
  return std::any_of(std::begin(kTypes), std::end(kTypes), [&](const char* t) { return m == t; });
}

// libmagic calls these text too: structured text is read as text.
bool is_text_mime(std::string_view m) {
  return starts_with(m, "text/") || m == "message/rfc822" || m == "application/json" ||
         m == "application/xml" || m == "application/javascript" || m == "application/x-ndjson" ||
         m == "image/svg+xml" || m == "application/rtf";
}

// The archive and compressed-stream signatures libarchive reads (checked here because
// libmagic costs 0.1-0.5 ms per small file, more than the engine's whole scan of a message).
bool archive_signature(std::string_view b) {
  static const std::string_view kMagic[] = {
      std::string_view("\x1f\x8b", 2),  // gzip
      std::string_view("\xFD"
                       "7zXZ\0",
                       6),                        // xz
      std::string_view("\x28\xB5\x2F\xFD", 4),    // zstd
      std::string_view("7z\xBC\xAF\x27\x1C", 6),  // 7z
      "Rar!\x1A\x07",                             // rar 4 and 5
      std::string_view("\xC7\x71", 2),
      std::string_view("\x71\xC7", 2),          // cpio binary
      std::string_view("\x04\x22\x4D\x18", 4),  // lz4
      std::string_view("\x5D\0\0", 3),          // lzma
      std::string_view("\x1F\x9D", 2),          // compress (.Z)
      "!<arch>\n",
      "MSCF",
      "xar!",
      "LZIP",  // ar, cab, xar, lzip
  };
  for (std::string_view m : kMagic)
    if (starts_with(b, m)) return true;
  if (starts_with(b, "BZh") && b.size() > 3 && b[3] >= '1' && b[3] <= '9') return true;  // bzip2
  // cpio's ASCII headers: the magic and then only hex (newc) or octal (odc) digits - a CSV
  // that starts with a phone number "0707012345," is not one.
  for (std::string_view m : {"070701", "070702", "070707"}) {
    std::size_t len = m == "070707" ? 76 : 110;
    if (starts_with(b, m) && b.size() >= len &&
        b.substr(6, len - 6).find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos)
      return true;
  }
  if (b.size() > 262 && b.substr(257, 5) == "ustar") return true;      // tar
  if (b.size() > 32774 && b.substr(32769, 5) == "CD001") return true;  // iso 9660
  return false;
}

// A message (a forwarded .eml sent as a plain file): header lines up to a blank line, with
// a header every message has. Read as a message, its base64 parts are decoded too.
bool looks_like_message(std::string_view b) {
  std::string head = lower(b.substr(0, 2048));
  auto blank = head.find("\n\n") != std::string::npos ? head.find("\n\n") : head.find("\r\n\r\n");
  if (blank == std::string::npos) return false;
  std::string_view first(head.data(), head.find_first_of("\r\n"));
  auto colon = first.find(':');
  if (colon == std::string_view::npos || colon == 0 ||
      first.substr(0, colon).find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") !=
          std::string_view::npos)
    return false;
  for (const char* h : {"from:", "received:", "return-path:", "message-id:", "mime-version:"})
    if (head.find(h) < blank) return true;
  return false;
}

bool looks_like_html(std::string_view b) {
  std::string_view h = b.substr(0, 4096);
  std::size_t start = h.find_first_not_of(" \t\r\n\xEF\xBB\xBF");
  if (start == std::string_view::npos) return false;
  std::string l = lower(h.substr(start, 14));
  return starts_with(l, "<!doctype html") || starts_with(l, "<html");
}

}  // namespace

Format detect(std::string_view bytes, const std::string& name, const std::string& type) {
  const std::string ct = lower(type);
  // Bytes first: names and declared types are whatever the sender's client guessed. The
  // signatures the readers depend on are checked here, then libmagic says what the rest is.
  if (bytes.empty()) return Format::empty;
  if (starts_with(bytes, "PK\x03\x04") || starts_with(bytes, "PK\x05\x06")) return zip_kind(bytes);
  if (bytes.substr(0, 1024).find("%PDF-") != std::string_view::npos) return Format::pdf;
  if (starts_with(bytes, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1")) return Format::ole;
  // Image signatures are trusted as they stand (a photo is never read; libmagic would call
  // a truncated one data).
  if (starts_with(bytes, "\x89PNG") || starts_with(bytes, "\xFF\xD8\xFF") ||
      starts_with(bytes, "GIF8") || starts_with(bytes, std::string_view("II*\0", 4)) ||
      starts_with(bytes, std::string_view("MM\0*", 4)) ||
      (starts_with(bytes, "RIFF") && bytes.substr(8, 4) == "WEBP"))
    return Format::media;
  if (bytes.find("-----BEGIN PGP MESSAGE-----") < 1024) return Format::pgp;
  if (ct == "application/pkcs7-mime" || ct == "application/x-pkcs7-mime" ||
      any_suffix(name, {".p7m"}))
    return Format::smime;
  if (ct == "application/pgp-encrypted") return Format::pgp;
  if (archive_signature(bytes)) return Format::archive;
  std::string mime;
  if (looks_binary(bytes)) {
    // Everything else: libmagic knows thousands of formats (audio, video, executables...).
    mime = magic_mime(bytes);
    if (mime == "application/x-empty" || mime == "inode/x-empty") return Format::empty;
    if (is_archive_mime(mime)) return Format::archive;
    if (mime == "application/pdf") return Format::pdf;
    if (starts_with(mime, "image/") && mime != "image/svg+xml") return Format::media;
    if (starts_with(mime, "audio/") || starts_with(mime, "video/")) return Format::media;
    if (mime == "application/pgp" || mime == "application/pgp-encrypted") return Format::pgp;
    if (!is_text_mime(mime)) return Format::unknown;
  }
  // Text: the declared type and the name say which text (all of it is read either way).
  if (mime == "message/rfc822" || ct == "message/rfc822" || any_suffix(name, {".eml"}))
    return Format::eml;
  // Undeclared, it may be a message or text that merely starts like one ("From: office"):
  // read both ways, so no line of it goes unread as a header.
  if (looks_like_message(bytes)) return Format::text_message;
  if (mime == "text/html" || ct == "text/html" || any_suffix(name, {".html", ".htm"}) ||
      looks_like_html(bytes))
    return Format::html;
  return Format::text;
}

void dispatch(Job& job, const std::string& origin, const std::string& name,
              const std::string& content_type, std::string_view bytes, unsigned depth) {
  if (job.out_of_time(origin)) return;
  if (bytes.size() > job.limits().max_attachment_bytes) {
    job.limit(origin, "max_attachment_bytes", false);
    return;
  }
  Format format = detect(bytes, name, content_type);
  try {
    switch (format) {
      case Format::ooxml_docx:
      case Format::ooxml_xlsx:
      case Format::ooxml_pptx:
        read_ooxml(job, format, origin, bytes, depth);
        break;
      case Format::odf:
        read_odf(job, origin, bytes, depth);
        break;
      case Format::zip:
        read_zip(job, origin, bytes, depth);
        break;
      case Format::archive:
        read_archive(job, origin, name, bytes, depth);
        break;
      case Format::pdf:
        read_pdf(job, origin, bytes);
        break;
      case Format::ole:
        read_ole(job, origin, bytes);
        break;
      case Format::smime:
        job.unscannable(origin, "encrypted-smime");
        break;
      case Format::pgp:
        job.unscannable(origin, "encrypted-pgp");
        break;
      case Format::html:
        read_html(job, origin, bytes);
        break;
      case Format::text:
        read_text(job, origin, bytes);
        break;
      case Format::eml:
        read_eml(job, origin, bytes, depth);
        break;
      case Format::text_message:
        read_text(job, origin, bytes);
        read_eml(job, origin, bytes, depth);
        break;
      case Format::media:  // images, audio, video: listed by the caller, never read (no OCR)
      case Format::empty:
        break;
      case Format::unknown:
        // Bytes no reader understands (random data, an executable, a format we do not
        // read) may hold anything: never "nothing".
        job.unscannable(origin, "unknown-format");
        break;
    }
  } catch (const std::exception&) {
    job.unscannable(origin, std::string("corrupt:") + format_name(format, name));
  }
}

}  // namespace detail

bool looks_binary(std::string_view bytes) {
  // Text as mail clients send it has almost no control characters; a stray NUL or two in a
  // broken body does not make it a file, while UTF-16 (half NULs) and every compressed or binary
  // format are far over 1 % (UTF-16 is then recognised by libmagic as text).
  std::string_view head = bytes.substr(0, 8192);
  std::size_t control = 0;
  for (unsigned char c : head)
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != 0x1B) ++control;
  // (A short file with a couple of control bytes is read as text: text is never unread.)
  return control > 2 && control * 100 > head.size();
}

void extract(const std::string& origin, const std::string& name, const std::string& content_type,
             std::string_view bytes, Context& ctx, DecodedMessage& out) {
  return_large_buffers_to_the_system();
  detail::Job job{ctx, out, 0, 0, false, {}};
  try {
    detail::dispatch(job, origin, name, content_type, bytes, ctx.depth);
  } catch (...) {
    // bad_alloc or anything else a reader let through: never across the engine boundary.
    job.unscannable(origin, "corrupt:attachment");
  }
  // A large document leaves its pages, XML trees and inflated parts in freed heap that
  // glibc keeps for the next allocation; hand it back once the caller is done with it, so a
  // daemon that once read a 10 MB spreadsheet does not stay that size (issue 12).
  if (bytes.size() >= kTrimAfterBytes) DeferredTrim::after_large_document();
}

}  // namespace pm::attachments
