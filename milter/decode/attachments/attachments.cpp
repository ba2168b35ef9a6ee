// The entry point: detect the format (magic bytes first, then name and declared type),
// hand the bytes to its reader, and turn anything unreadable into an Unscannable entry.
#include "decode/attachments/attachments.h"

#include <algorithm>
#include <cctype>
#include <exception>
#include <unordered_set>

#include "decode/attachments/internal.h"
#include "decode/attachments/zip_archive.h"
#include "decode/text/charset.h"
#include "decode/text/html.h"

namespace pm::attachments {

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

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

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
    case Format::ooxml_docx: return "docx";
    case Format::ooxml_xlsx: return "xlsx";
    case Format::ooxml_pptx: return "pptx";
    case Format::odf: return "odf";
    case Format::pdf: return "pdf";
    case Format::html: return "html";
    case Format::eml: return "eml";
    case Format::text: return "text";
    case Format::zip:
      // A truncated docx is still a docx to the person reading the verdict.
      if (any_suffix(name, {".docx", ".docm", ".dotx"})) return "docx";
      if (any_suffix(name, {".xlsx", ".xlsm", ".xltx"})) return "xlsx";
      if (any_suffix(name, {".pptx", ".pptm", ".potx"})) return "pptx";
      if (any_suffix(name, {".odt", ".ods", ".odp"})) return "odf";
      return "zip";
    default: return "file";
  }
}

// Legacy OLE compound file: an Office file saved with a password keeps its real content in
// an "EncryptedPackage" stream (directory names are UTF-16LE).
bool ole_is_encrypted(std::string_view bytes) {
  static const std::string kName = [] {
    std::string s;
    for (char c : std::string_view("EncryptedPackage")) {
      s.push_back(c);
      s.push_back('\0');
    }
    return s;
  }();
  return bytes.find(kName) != std::string_view::npos;
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

Format detect(std::string_view bytes, const std::string& name, const std::string& type) {
  const std::string ct = lower(type);
  // Magic bytes first: names and declared types are whatever the sender's client guessed.
  if (starts_with(bytes, "PK\x03\x04") || starts_with(bytes, "PK\x05\x06"))
    return zip_kind(bytes);
  if (bytes.substr(0, 1024).find("%PDF-") != std::string_view::npos) return Format::pdf;
  if (starts_with(bytes, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1")) return Format::ole;
  if (starts_with(bytes, "\x89PNG") || starts_with(bytes, "\xFF\xD8\xFF") ||
      starts_with(bytes, "GIF8") || starts_with(bytes, "II*\0") || starts_with(bytes, "MM\0*") ||
      (starts_with(bytes, "RIFF") && bytes.substr(8, 4) == "WEBP"))
    return Format::image;
  if (bytes.find("-----BEGIN PGP MESSAGE-----") < 1024) return Format::pgp;
  // Then the declared type and the name.
  if (ct == "application/pkcs7-mime" || ct == "application/x-pkcs7-mime" ||
      ct == "application/pgp-encrypted" || any_suffix(name, {".p7m"}))
    return ct == "application/pgp-encrypted" ? Format::pgp : Format::smime;
  if (ct == "message/rfc822" || any_suffix(name, {".eml"})) return Format::eml;
  if (ct == "text/html" || any_suffix(name, {".html", ".htm"})) return Format::html;
  if (starts_with(ct, "image/")) return Format::image;
  if (ct == "application/pdf" || any_suffix(name, {".pdf"})) return Format::pdf;
  if (any_suffix(name, {".zip", ".docx", ".xlsx", ".pptx", ".odt", ".ods", ".odp"}))
    return Format::zip;  // claims a container but has no valid magic: read_zip says corrupt
  if (starts_with(ct, "text/") ||
      any_suffix(name, {".csv", ".tsv", ".txt", ".text", ".vcf", ".ics", ".md", ".rtf"}))
    return Format::text;
  // Undeclared: text if it reads as text (no NULs in the first 4 KB).
  std::string_view head = bytes.substr(0, 4096);
  if (!head.empty() && head.find('\0') == std::string_view::npos) {
    std::string_view h = head.substr(head.find_first_not_of(" \t\r\n\xEF\xBB\xBF") == std::string_view::npos
                                         ? 0
                                         : head.find_first_not_of(" \t\r\n\xEF\xBB\xBF"));
    if (starts_with(lower(h.substr(0, 14)), "<!doctype html") || starts_with(lower(h.substr(0, 5)), "<html"))
      return Format::html;
    return Format::text;
  }
  return Format::unknown;
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
      case Format::odf: read_odf(job, origin, bytes, depth); break;
      case Format::zip: read_zip(job, origin, bytes, depth); break;
      case Format::pdf: read_pdf(job, origin, bytes); break;
      case Format::ole:
        // Legacy binary Office (.doc/.xls/.ppt) is not read; with a password it is encrypted.
        job.unscannable(origin, ole_is_encrypted(bytes) ? "encrypted-office" : "unsupported:ole");
        break;
      case Format::smime: job.unscannable(origin, "encrypted-smime"); break;
      case Format::pgp: job.unscannable(origin, "encrypted-pgp"); break;
      case Format::html: read_html(job, origin, bytes); break;
      case Format::text: read_text(job, origin, bytes); break;
      case Format::eml: read_eml(job, origin, bytes, depth); break;
      case Format::image:    // listed by the caller, never read (no OCR)
      case Format::unknown:  // binary of no known kind: listed, nothing to read
        break;
    }
  } catch (const std::exception&) {
    job.unscannable(origin, std::string("corrupt:") + format_name(format, name));
  }
}

}  // namespace detail

void extract(const std::string& origin, const std::string& name, const std::string& content_type,
             std::string_view bytes, Context& ctx, DecodedMessage& out) {
  detail::Job job{ctx, out, 0, 0, false, {}};
  try {
    detail::dispatch(job, origin, name, content_type, bytes, ctx.depth);
  } catch (...) {
    // bad_alloc or anything else a reader let through: never across the engine boundary.
    job.unscannable(origin, "corrupt:attachment");
  }
}

}  // namespace pm::attachments
