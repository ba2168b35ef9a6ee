// Office Open XML: docx/docm, xlsx/xlsm, pptx/pptm. Each part is read from the zip under the
// job's caps, parsed with pugixml and turned into segments:
//   docx  origin (body), origin#header1, #footer1, #footnotes, #endnotes, #comments
//   xlsx  origin#<sheet name> (one row per line, cells tab-separated, numbers formatted),
//         origin#comments, origin#drawing1
//   pptx  origin#slide3, origin#slide3 notes, origin#comments
//   all   origin#properties (title, author, ...), origin + " links" (hyperlink targets)
#include <algorithm>
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
std::vector<std::pair<long, std::string>> numbered(const ZipArchive& zip, const std::string& prefix) {
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

std::unordered_map<std::string, std::string> relationship_targets(Job& job, const ZipArchive& zip,
                                                                  const std::string& part,
                                                                  const std::string& origin,
                                                                  std::string_view type_suffix = "") {
  std::unordered_map<std::string, std::string> out;
  auto rels = load(job, zip, rels_name(part), origin);
  if (!rels) return out;
  std::string dir = part.substr(0, part.rfind('/') + 1);
  pugi::xml_node top = rels->doc.document_element();
  for (pugi::xml_node rel : top.children()) {
    std::string_view type = rel.attribute("Type").value();
    if (!type_suffix.empty() &&
        (type.size() < type_suffix.size() || type.substr(type.size() - type_suffix.size()) != type_suffix))
      continue;
    if (std::string_view(rel.attribute("TargetMode").value()) == "External") continue;
    out[rel.attribute("Id").value()] = resolve(dir, rel.attribute("Target").value());
  }
  return out;
}

void properties(Job& job, const ZipArchive& zip, const std::string& origin) {
  std::string text;
  static const std::pair<const char*, const char*> kFields[] = {
      {"title", "Title"},       {"subject", "Subject"},        {"creator", "Author"},
      {"lastModifiedBy", "Last modified by"}, {"keywords", "Keywords"},
      {"description", "Description"}, {"category", "Category"},
      {"Company", "Company"},   {"Manager", "Manager"}};
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

std::vector<std::string> load_shared_strings(Job& job, const ZipArchive& zip,
                                             const std::string& origin) {
  std::vector<std::string> out;
  auto p = load(job, zip, "xl/sharedStrings.xml", origin);
  if (!p) return out;
  for (pugi::xml_node si : p->doc.document_element().children()) {
    std::string s;
    // Rich text runs (r/t) or a plain t; phonetic guides (rPh) are not what is shown.
    for (pugi::xml_node c : si.children()) {
      std::string_view ln = local_name(c.name());
      if (ln == "t") s += c.child_value();
      else if (ln == "r")
        for (pugi::xml_node t : c.children())
          if (local_name(t.name()) == "t") s += t.child_value();
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::string cell_text(const pugi::xml_node& c, const std::vector<std::string>& shared,
                      const Styles& styles, bool date1904, std::vector<std::string>& links) {
  std::string_view type = c.attribute("t").value();
  pugi::xml_node v, is, f;
  for (pugi::xml_node k : c.children()) {
    std::string_view ln = local_name(k.name());
    if (ln == "v") v = k;
    else if (ln == "is") is = k;
    else if (ln == "f") f = k;
  }
  if (f) {
    std::string_view formula = f.child_value();
    if (formula.find("HYPERLINK(") != std::string_view::npos) {
      auto q1 = formula.find('"');
      auto q2 = q1 == std::string_view::npos ? q1 : formula.find('"', q1 + 1);
      if (q2 != std::string_view::npos) links.emplace_back(formula.substr(q1 + 1, q2 - q1 - 1));
    }
  }
  if (type == "inlineStr") {
    std::string s;
    for (pugi::xml_node k : is.children()) {
      std::string_view ln = local_name(k.name());
      if (ln == "t") s += k.child_value();
      else if (ln == "r")
        for (pugi::xml_node t : k.children())
          if (local_name(t.name()) == "t") s += t.child_value();
    }
    return s;
  }
  std::string_view raw = v.child_value();
  if (raw.empty()) return "";
  if (type == "s") {
    unsigned long i = std::strtoul(std::string(raw).c_str(), nullptr, 10);
    return i < shared.size() ? shared[i] : "";
  }
  if (type == "b") return raw == "1" ? "TRUE" : "FALSE";
  if (type == "str" || type == "e" || type == "d") return std::string(raw);
  // A number: apply the style's format.
  char* end = nullptr;
  std::string raws(raw);
  double d = std::strtod(raws.c_str(), &end);
  if (end == raws.c_str()) return raws;
  unsigned s = c.attribute("s").as_uint();
  std::string code = s < styles.format_of_xf.size() ? styles.format_of_xf[s] : "";
  return format_number(d, code, date1904);
}

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
    auto part = load(job, zip, it->second, origin);
    if (!part) continue;
    std::string text;
    pugi::xml_node data = part->doc.document_element().child("sheetData");
    if (!data)
      for (pugi::xml_node n : part->doc.document_element().children())
        if (local_name(n.name()) == "sheetData") data = n;
    for (pugi::xml_node row : data.children()) {
      std::string line;
      for (pugi::xml_node c : row.children()) {
        std::string cell = cell_text(c, shared, styles, date1904, links);
        if (cell.empty()) continue;
        // Cells of one row stay on one line so "name, DOB, UPN" match together; a cell's
        // own line breaks would split the row, so they become spaces.
        for (char& ch : cell)
          if (ch == '\n' || ch == '\r' || ch == '\t') ch = ' ';
        if (!line.empty()) line += '\t';
        line += cell;
      }
      if (!line.empty()) text += line + "\n";
    }
    part.reset();
    job.emit(origin + "#" + sheet_name, SegmentKind::attachment, std::move(text));
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
    case Format::ooxml_docx: read_docx(job, zip, origin); break;
    case Format::ooxml_xlsx: read_xlsx(job, zip, origin); break;
    case Format::ooxml_pptx: read_pptx(job, zip, origin); break;
    default: break;
  }
}

}  // namespace pm::attachments::detail
