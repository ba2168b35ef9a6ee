// OpenDocument: odt, ods, odp (and any other ODF kind, read as text). Segments:
//   odt  origin (body with notes, comments, frames), origin#headers (master-page headers
//        and footers from styles.xml)
//   ods  origin#<table name>, one row per line, cells tab-separated (ODF stores the
//        displayed text of every cell, so dates are already as shown)
//   odp  origin#slide3 (with its notes as origin#slide3 notes)
//   all  origin#properties (meta.xml), origin + " links" (text:a targets)
#include <memory>
#include <string>
#include <vector>

#include "decode/attachments/internal.h"
#include "decode/attachments/xml_text.h"
#include "decode/attachments/zip_archive.h"

namespace pm::attachments::detail {

namespace {

constexpr int kMaxXmlDepth = 256;  // as in xml_text.cpp: the walker is recursive

struct OdfWalker {
  std::string out;
  std::vector<std::string>& links;
  bool skip_notes = false;
  int in_cell = 0;

  void walk(const pugi::xml_node& node, int depth) {
    if (depth > kMaxXmlDepth) return;
    for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling()) {
      if (c.type() == pugi::node_pcdata || c.type() == pugi::node_cdata) {
        out += c.value();
        continue;
      }
      if (c.type() != pugi::node_element) continue;
      std::string_view ln = local_name(c.name());
      if (ln == "p" || ln == "h") {
        walk(c, depth + 1);
        out += in_cell ? ' ' : '\n';
      } else if (ln == "tab") {
        out += '\t';
      } else if (ln == "line-break") {
        out += '\n';
      } else if (ln == "s") {
        unsigned n = c.attribute("text:c").as_uint(1);
        out.append(n > 0 && n < 64 ? n : 1, ' ');
      } else if (ln == "a") {
        links.emplace_back(c.attribute("xlink:href").value());
        walk(c, depth + 1);
      } else if (ln == "table-cell" || ln == "covered-table-cell") {
        ++in_cell;
        walk(c, depth + 1);
        --in_cell;
        while (!out.empty() && out.back() == ' ') out.pop_back();  // the cell's last paragraph
        out += '\t';
      } else if (ln == "table-row") {
        walk(c, depth + 1);
        out += '\n';
      } else if ((ln == "notes" && skip_notes) || ln == "sequence-decls" || ln == "forms" ||
                 ln == "scripts" || ln == "automatic-styles" || ln == "font-face-decls") {
        // not text, or read separately (odp notes)
      } else {
        walk(c, depth + 1);
      }
    }
  }
};

struct Doc {
  std::string data;
  pugi::xml_document doc;
};

std::unique_ptr<Doc> load(Job& job, const ZipArchive& zip, const char* name,
                          const std::string& origin) {
  auto data = read_member(job, zip, std::string(name), origin, "odf");
  if (!data) return nullptr;
  auto d = std::make_unique<Doc>();
  d->data = std::move(*data);
  parse_xml(d->doc, d->data);
  return d;
}

pugi::xml_node child_local(const pugi::xml_node& n, std::string_view name) {
  for (pugi::xml_node c : n.children())
    if (c.type() == pugi::node_element && local_name(c.name()) == name) return c;
  return {};
}

void meta(Job& job, const ZipArchive& zip, const std::string& origin) {
  auto d = load(job, zip, "meta.xml", origin);
  if (!d) return;
  static const std::pair<const char*, const char*> kFields[] = {
      {"title", "Title"}, {"subject", "Subject"}, {"initial-creator", "Author"},
      {"creator", "Last modified by"}, {"keyword", "Keywords"}, {"description", "Description"}};
  std::string text;
  for (pugi::xml_node n : child_local(d->doc.document_element(), "meta").children()) {
    std::string_view ln = local_name(n.name());
    for (auto& [field, label] : kFields)
      if (ln == field && *n.child_value())
        text += std::string(label) + ": " + n.child_value() + "\n";
  }
  job.emit(origin + "#properties", SegmentKind::attachment, std::move(text));
}

}  // namespace

void read_odf(Job& job, const std::string& origin, std::string_view bytes, unsigned depth) {
  if (depth >= job.limits().max_archive_depth) {
    job.limit(origin, "max_archive_depth", false);
    return;
  }
  ZipArchive zip(bytes);
  if (zip.count() > job.limits().max_archive_members) {
    job.limit(origin, "max_archive_members", true);
    return;
  }
  std::vector<std::string> links;
  if (auto content = load(job, zip, "content.xml", origin)) {
    pugi::xml_node body = child_local(content->doc.document_element(), "body");
    for (pugi::xml_node kind : body.children()) {
      std::string_view k = local_name(kind.name());
      if (k == "spreadsheet") {
        for (pugi::xml_node t : kind.children()) {
          if (local_name(t.name()) != "table") {
            continue;
          }
          OdfWalker w{{}, links};
          w.walk(t, 0);
          job.emit(origin + "#" + t.attribute("table:name").value(), SegmentKind::attachment,
                   std::move(w.out));
        }
      } else if (k == "presentation") {
        unsigned n = 0;
        for (pugi::xml_node page : kind.children()) {
          if (local_name(page.name()) != "page") continue;
          std::string page_origin = origin + "#slide" + std::to_string(++n);
          OdfWalker w{{}, links, true};
          w.walk(page, 0);
          job.emit(page_origin, SegmentKind::attachment, std::move(w.out));
          if (pugi::xml_node notes = child_local(page, "notes")) {
            OdfWalker nw{{}, links};
            nw.walk(notes, 0);
            job.emit(page_origin + " notes", SegmentKind::attachment, std::move(nw.out));
          }
        }
      } else {
        OdfWalker w{{}, links};
        w.walk(kind, 0);
        job.emit(origin, SegmentKind::attachment, std::move(w.out));
      }
    }
  }
  if (auto styles = load(job, zip, "styles.xml", origin)) {
    OdfWalker w{{}, links};
    w.walk(child_local(styles->doc.document_element(), "master-styles"), 0);
    job.emit(origin + "#headers", SegmentKind::attachment, std::move(w.out));
  }
  meta(job, zip, origin);
  job.emit_links(origin + " links", links);
}

}  // namespace pm::attachments::detail
