// Office Open XML: docx/docm, xlsx/xlsm, pptx/pptm. Each part is read from the zip under the
// job's caps, parsed with pugixml and turned into segments:
//   docx  origin (body), origin#header1, #footer1, #footnotes, #endnotes, #comments
//   xlsx  origin#<sheet name> (one row per line, cells tab-separated, numbers formatted),
//         origin#comments, origin#drawing1
//   pptx  origin#slide3, origin#slide3 notes, origin#comments
//   all   origin#properties (title, author, ...), origin + " links" (hyperlink targets)
#include <expat.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <unordered_map>

#include "decode/attachments/internal.h"
#include "decode/attachments/number_format.h"
#include "decode/attachments/xml_text.h"
#include "decode/attachments/zip_archive.h"

namespace pm::attachments::detail {

namespace {

struct Part {
  std::string data;  // the parsed document points into this buffer
  pugi::xml_document doc;
};

// Reads and parses a part; nullptr when it is absent or skipped by a limit.
// The container kind for "corrupt:<format>" reasons; set once per file by read_ooxml (a
// job reads one file at a time on one thread).
thread_local const char* t_format = "ooxml";

std::unique_ptr<Part> load(Job& job, const ZipArchive& zip, const std::string& name,
                           const std::string& origin) {
  auto data = read_member(job, zip, name, origin, t_format);
  if (!data) return nullptr;
  auto part = std::make_unique<Part>();
  part->data = std::move(*data);
  parse_xml(part->doc, part->data);
  return part;
}

// "word/header1.xml" -> "word/_rels/header1.xml.rels"
std::string rels_name(const std::string& part) {
  auto slash = part.rfind('/');
  std::string dir = slash == std::string::npos ? "" : part.substr(0, slash + 1);
  std::string base = slash == std::string::npos ? part : part.substr(slash + 1);
  return dir + "_rels/" + base + ".rels";
}

void collect_links(Job& job, const ZipArchive& zip, const std::string& part,
                   const std::string& origin, std::vector<std::string>& links) {
  if (auto rels = load(job, zip, rels_name(part), origin)) {
    auto t = hyperlink_targets(rels->doc);
    links.insert(links.end(), t.begin(), t.end());
  }
}

// Members whose name is prefix + N + ".xml", in numeric order of N.
std::vector<std::pair<long, std::string>> numbered(const ZipArchive& zip,
                                                   const std::string& prefix) {
  std::vector<std::pair<long, std::string>> out;
  for (std::uint64_t i = 0; i < zip.count(); ++i) {
    std::string n = zip.entry(i).name;
    if (n.rfind(prefix, 0) != 0 || !ends_with_ci(n, ".xml")) continue;
    std::string mid = n.substr(prefix.size(), n.size() - prefix.size() - 4);
    if (mid.empty() || mid.find_first_not_of("0123456789") != std::string::npos) continue;
    out.emplace_back(std::strtol(mid.c_str(), nullptr, 10), n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Resolves a relationship target against the folder of the part that owns it.
std::string resolve(const std::string& base_dir, std::string target) {
  if (!target.empty() && target[0] == '/') return target.substr(1);
  std::string dir = base_dir;
  while (target.rfind("../", 0) == 0) {
    target.erase(0, 3);
    if (!dir.empty()) dir.pop_back();
    dir.erase(dir.rfind('/') == std::string::npos ? 0 : dir.rfind('/') + 1);
  }
  return dir + target;
}

std::unordered_map<std::string, std::string> relationship_targets(
    Job& job, const ZipArchive& zip, const std::string& part, const std::string& origin,
    std::string_view type_suffix = "") {
  std::unordered_map<std::string, std::string> out;
  auto rels = load(job, zip, rels_name(part), origin);
  if (!rels) return out;
  std::string dir = part.substr(0, part.rfind('/') + 1);
  pugi::xml_node top = rels->doc.document_element();
  for (pugi::xml_node rel : top.children()) {
    std::string_view type = rel.attribute("Type").value();
    if (!type_suffix.empty() && (type.size() < type_suffix.size() ||
                                 type.substr(type.size() - type_suffix.size()) != type_suffix))
      continue;
    if (std::string_view(rel.attribute("TargetMode").value()) == "External") continue;
    out[rel.attribute("Id").value()] = resolve(dir, rel.attribute("Target").value());
  }
  return out;
}

void properties(Job& job, const ZipArchive& zip, const std::string& origin) {
  std::string text;
  static const std::pair<const char*, const char*> kFields[] = {
      {"title", "Title"},       {"subject", "Subject"},
      {"creator", "Author"},    {"lastModifiedBy", "Last modified by"},
      {"keywords", "Keywords"}, {"description", "Description"},
      {"category", "Category"}, {"Company", "Company"},
      {"Manager", "Manager"}};
  for (const char* part : {"docProps/core.xml", "docProps/app.xml"}) {
    auto p = load(job, zip, part, origin);
    if (!p) continue;
    for (pugi::xml_node n : p->doc.document_element().children()) {
      std::string_view ln = local_name(n.name());
      for (auto& [field, label] : kFields) {
        if (ln != field) continue;
        std::string_view v = n.child_value();
        if (!v.empty()) text += std::string(label) + ": " + std::string(v) + "\n";
      }
    }
  }
  job.emit(origin + "#properties", SegmentKind::attachment, std::move(text));
}

void read_docx(Job& job, const ZipArchive& zip, const std::string& origin) {
  std::vector<std::string> links;
  std::vector<std::pair<std::string, std::string>> parts = {{"word/document.xml", ""}};
  for (const char* kind : {"header", "footer"})
    for (auto& [n, name] : numbered(zip, std::string("word/") + kind))
      parts.emplace_back(name, std::string("#") + kind + std::to_string(n));
  for (const char* kind : {"footnotes", "endnotes", "comments"})
    parts.emplace_back(std::string("word/") + kind + ".xml", std::string("#") + kind);
  for (auto& [name, suffix] : parts) {
    if (job.stopped) return;
    auto part = load(job, zip, name, origin);
    if (!part) continue;
    std::map<std::string, std::string> rels;
    if (auto r = load(job, zip, rels_name(name), origin)) rels = hyperlink_map(r->doc);
    std::string text = office_text(part->doc, links, rels);
    part.reset();
    job.emit(origin + suffix, SegmentKind::attachment, std::move(text));
    collect_links(job, zip, name, origin, links);
  }
  properties(job, zip, origin);
  job.emit_links(origin + " links", links);
}

// --- xlsx ------------------------------------------------------------------------------

struct Styles {
  std::vector<std::string> format_of_xf;  // cellXfs index -> format code
};

Styles load_styles(Job& job, const ZipArchive& zip, const std::string& origin) {
  Styles s;
  auto p = load(job, zip, "xl/styles.xml", origin);
  if (!p) return s;
  std::map<unsigned, std::string> custom;
  pugi::xml_node root = p->doc.document_element();
  for (pugi::xml_node n : root.children()) {
    std::string_view ln = local_name(n.name());
    if (ln == "numFmts") {
      for (pugi::xml_node f : n.children())
        custom[f.attribute("numFmtId").as_uint()] = f.attribute("formatCode").value();
    } else if (ln == "cellXfs") {
      for (pugi::xml_node xf : n.children()) {
        unsigned id = xf.attribute("numFmtId").as_uint();
        auto it = custom.find(id);
        s.format_of_xf.push_back(it != custom.end() ? it->second : builtin_number_format(id));
      }
    }
  }
  return s;
}

// Shared strings and sheets are read as a stream (expat, issue 12): a 10 MB xlsx holds
// hundreds of MB of sheet XML, and a DOM of it cost 565 MB. Memory is now one 64 KiB chunk,
// the shared strings themselves and the text of at most sheet_segment_bytes before it is
// emitted as a segment.
class StreamXml {
 public:
  StreamXml() : p_(XML_ParserCreate(nullptr)) {
    if (!p_) throw std::bad_alloc();
    XML_SetUserData(p_, this);
    XML_SetElementHandler(p_, &StreamXml::on_start, &StreamXml::on_end);
    XML_SetCharacterDataHandler(p_, &StreamXml::on_text);
    // OOXML parts never have a DTD; one that does is hostile (entity expansion): refuse.
    XML_SetStartDoctypeDeclHandler(p_, &StreamXml::on_doctype);
  }
  virtual ~StreamXml() { XML_ParserFree(p_); }
  StreamXml(const StreamXml&) = delete;
  StreamXml& operator=(const StreamXml&) = delete;

  void feed(std::string_view chunk) {
    if (XML_Parse(p_, chunk.data(), static_cast<int>(chunk.size()), XML_FALSE) != XML_STATUS_OK)
      throw std::runtime_error("malformed XML");
  }
  void finish() {
    if (XML_Parse(p_, "", 0, XML_TRUE) != XML_STATUS_OK) throw std::runtime_error("malformed XML");
  }

 protected:
  virtual void start(std::string_view name, const char** attrs) = 0;
  virtual void end(std::string_view name) = 0;
  virtual void text(std::string_view t) = 0;
  static std::string_view attr(const char** attrs, std::string_view name) {
    for (; attrs && attrs[0]; attrs += 2)
      if (local_name(attrs[0]) == name) return attrs[1];
    return {};
  }

 private:
  // Callbacks from C: no exception may cross them, so errors stop the parser instead.
  static void on_start(void* u, const XML_Char* n, const XML_Char** a) {
    static_cast<StreamXml*>(u)->start(local_name(n), a);
  }
  static void on_end(void* u, const XML_Char* n) { static_cast<StreamXml*>(u)->end(local_name(n)); }
  static void on_text(void* u, const XML_Char* s, int len) {
    static_cast<StreamXml*>(u)->text(std::string_view(s, static_cast<std::size_t>(len)));
  }
  static void on_doctype(void* u, const XML_Char*, const XML_Char*, const XML_Char*, int) {
    XML_StopParser(static_cast<StreamXml*>(u)->p_, XML_FALSE);
  }
  XML_Parser p_;
};

class SharedStrings : public StreamXml {
 public:
  std::vector<std::string> strings;

 private:
  // Rich text runs (r/t) or a plain t; phonetic guides (rPh) are not what is shown.
  void start(std::string_view n, const char**) override {
    if (n == "si")
      cur_.clear(), in_si_ = true;
    else if (n == "rPh")
      ++rph_;
    else if (n == "t" && in_si_ && rph_ == 0)
      in_t_ = true;
  }
  void end(std::string_view n) override {
    if (n == "si")
      strings.push_back(std::move(cur_)), cur_.clear(), in_si_ = false;
    else if (n == "rPh")
      --rph_;
    else if (n == "t")
      in_t_ = false;
  }
  void text(std::string_view t) override {
    if (in_t_) cur_ += t;
  }
  std::string cur_;
  bool in_si_ = false, in_t_ = false;
  int rph_ = 0;
};

std::vector<std::string> load_shared_strings(Job& job, const ZipArchive& zip,
                                             const std::string& origin) {
  SharedStrings ss;
  if (stream_member(job, zip, "xl/sharedStrings.xml", origin, t_format,
                    [&](std::string_view c) { ss.feed(c); }))
    ss.finish();
  return std::move(ss.strings);
}

std::string cell_value(std::string_view type, std::string_view raw, const std::string& inline_text,
                       unsigned style, const std::vector<std::string>& shared, const Styles& styles,
                       bool date1904) {
  if (type == "inlineStr") return inline_text;
  if (raw.empty()) return "";
  if (type == "s") {
    unsigned long i = 0;
    std::from_chars(raw.data(), raw.data() + raw.size(), i);
    return i < shared.size() ? shared[i] : "";
  }
  if (type == "b") return raw == "1" ? "TRUE" : "FALSE";
  if (type == "str" || type == "e" || type == "d") return std::string(raw);
  // A number: apply the style's format.
  char* end = nullptr;
  std::string raws(raw);
  double d = std::strtod(raws.c_str(), &end);
  if (end == raws.c_str()) return raws;
  std::string code = style < styles.format_of_xf.size() ? styles.format_of_xf[style] : "";
  return format_number(d, code, date1904);
}

// One sheet: one row per line, cells tab-separated; every sheet_segment_bytes of rows
// become a segment ("#Sheet1", then "#Sheet1 (2)", ...), so no row is split.
class SheetReader : public StreamXml {
 public:
  SheetReader(Job& job, std::string origin, const std::vector<std::string>& shared,
              const Styles& styles, bool date1904, std::vector<std::string>& links)
      : job_(job),
        origin_(std::move(origin)),
        shared_(shared),
        styles_(styles),
        date1904_(date1904),
        links_(links) {}

  void flush() {
    if (text_.empty() || (part_ > 1 && text_.size() <= header_.size() + 1)) return;
    job_.emit(part_ == 1 ? origin_ : origin_ + " (" + std::to_string(part_) + ")",
              SegmentKind::attachment, std::move(text_));
    // Each later segment starts with the sheet's first row: the column headings ("Name",
    // "DOB") are the context its rows are read in.
    text_ = header_.empty() ? std::string() : header_ + "\n";
    ++part_;
  }

 private:
  void start(std::string_view n, const char** a) override {
    if (n == "c") {
      type_ = attr(a, "t");
      std::string_view st = attr(a, "s");
      style_ = 0;
      std::from_chars(st.data(), st.data() + st.size(), style_);
      v_.clear(), f_.clear(), is_.clear();
    } else if (n == "v") {
      into_ = &v_;
    } else if (n == "f") {
      into_ = &f_;
    } else if (n == "is") {
      in_is_ = true;
    } else if (n == "rPh") {
      ++rph_;
    } else if (n == "t" && in_is_ && rph_ == 0) {
      into_ = &is_;
    } else if (n == "row") {
      line_.clear();
    }
  }
  void end(std::string_view n) override {
    if (n == "v" || n == "f" || n == "t") {
      into_ = nullptr;
    } else if (n == "is") {
      in_is_ = false;
    } else if (n == "rPh") {
      --rph_;
    } else if (n == "c") {
      cell_end();
    } else if (n == "row") {
      if (!line_.empty()) {
        if (header_.empty()) header_ = line_.substr(0, 4096);
        text_ += line_;
        text_ += '\n';
      }
      line_.clear();
      if (text_.size() >= job_.limits().sheet_segment_bytes) flush();
    }
  }
  void text(std::string_view t) override {
    if (into_) into_->append(t);
  }
  void cell_end() {
    if (auto h = f_.find("HYPERLINK("); h != std::string::npos) {
      auto q1 = f_.find('"', h);
      auto q2 = q1 == std::string::npos ? q1 : f_.find('"', q1 + 1);
      if (q2 != std::string::npos) links_.emplace_back(f_.substr(q1 + 1, q2 - q1 - 1));
    }
    std::string cell = cell_value(type_, v_, is_, style_, shared_, styles_, date1904_);
    if (cell.empty()) return;
    // Cells of one row stay on one line so "name, DOB, UPN" match together; a cell's own
    // line breaks would split the row, so they become spaces.
    for (char& ch : cell)
      if (ch == '\n' || ch == '\r' || ch == '\t') ch = ' ';
    if (!line_.empty()) line_ += '\t';
    line_ += cell;
  }

  Job& job_;
  std::string origin_;
  const std::vector<std::string>& shared_;
  const Styles& styles_;
  bool date1904_;
  std::vector<std::string>& links_;
  std::string text_, line_, header_, type_, v_, f_, is_;
  std::string* into_ = nullptr;
  unsigned style_ = 0;
  bool in_is_ = false;
  int rph_ = 0;
  int part_ = 1;
};

void read_xlsx(Job& job, const ZipArchive& zip, const std::string& origin) {
  std::vector<std::string> links;
  bool date1904 = false;
  std::vector<std::pair<std::string, std::string>> sheets;  // name, relationship id
  {
    auto wb = load(job, zip, "xl/workbook.xml", origin);
    if (!wb) return;
    for (pugi::xml_node n : wb->doc.document_element().children()) {
      std::string_view ln = local_name(n.name());
      if (ln == "workbookPr") {
        std::string_view d = n.attribute("date1904").value();
        date1904 = d == "1" || d == "true";
      } else if (ln == "sheets") {
        for (pugi::xml_node sh : n.children())
          sheets.emplace_back(sh.attribute("name").value(), sh.attribute("r:id").value());
      }
    }
  }
  auto targets = relationship_targets(job, zip, "xl/workbook.xml", origin);
  auto shared = load_shared_strings(job, zip, origin);
  Styles styles = load_styles(job, zip, origin);

  for (auto& [sheet_name, rid] : sheets) {
    if (job.stopped || job.out_of_time(origin)) return;
    auto it = targets.find(rid);
    if (it == targets.end()) continue;
    SheetReader sheet(job, origin + "#" + sheet_name, shared, styles, date1904, links);
    // A sheet stopped by a limit keeps the rows read before it (the limit is recorded).
    if (stream_member(job, zip, it->second, origin, t_format,
                      [&](std::string_view c) { sheet.feed(c); }))
      sheet.finish();
    sheet.flush();
    collect_links(job, zip, it->second, origin, links);
  }
  for (auto& [n, name] : numbered(zip, "xl/comments")) {
    if (auto p = load(job, zip, name, origin))
      job.emit(origin + "#comments", SegmentKind::attachment, office_text(p->doc, links));
  }
  for (auto& [n, name] : numbered(zip, "xl/drawings/drawing")) {
    if (auto p = load(job, zip, name, origin))
      job.emit(origin + "#drawing" + std::to_string(n), SegmentKind::attachment,
               office_text(p->doc, links));
  }
  properties(job, zip, origin);
  job.emit_links(origin + " links", links);
}

// --- pptx ------------------------------------------------------------------------------

void read_pptx(Job& job, const ZipArchive& zip, const std::string& origin) {
  std::vector<std::string> links;
  for (auto& [n, name] : numbered(zip, "ppt/slides/slide")) {
    if (job.stopped || job.out_of_time(origin)) return;
    std::string slide_origin = origin + "#slide" + std::to_string(n);
    if (auto p = load(job, zip, name, origin))
      job.emit(slide_origin, SegmentKind::attachment, office_text(p->doc, links));
    collect_links(job, zip, name, origin, links);
    for (auto& [id, notes] : relationship_targets(job, zip, name, origin, "/notesSlide")) {
      if (auto p = load(job, zip, notes, origin))
        job.emit(slide_origin + " notes", SegmentKind::attachment, office_text(p->doc, links));
      collect_links(job, zip, notes, origin, links);
    }
  }
  for (auto& [n, name] : numbered(zip, "ppt/comments/comment")) {
    if (auto p = load(job, zip, name, origin))
      job.emit(origin + "#comments", SegmentKind::attachment, office_text(p->doc, links));
  }
  properties(job, zip, origin);
  job.emit_links(origin + " links", links);
}

}  // namespace

void read_ooxml(Job& job, Format format, const std::string& origin, std::string_view bytes,
                unsigned depth) {
  if (depth >= job.limits().max_archive_depth) {
    job.limit(origin, "max_archive_depth", false);
    return;
  }
  ZipArchive zip(bytes);
  if (zip.count() > job.limits().max_archive_members) {
    job.limit(origin, "max_archive_members", true);
    return;
  }
  t_format = format == Format::ooxml_docx ? "docx" : format == Format::ooxml_xlsx ? "xlsx" : "pptx";
  switch (format) {
    case Format::ooxml_docx:
      read_docx(job, zip, origin);
      break;
    case Format::ooxml_xlsx:
      read_xlsx(job, zip, origin);
      break;
    case Format::ooxml_pptx:
      read_pptx(job, zip, origin);
      break;
    default:
      break;
  }
}

}  // namespace pm::attachments::detail
