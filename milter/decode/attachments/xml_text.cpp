#include "decode/attachments/xml_text.h"

#include <stdexcept>

#include "decode/attachments/internal.h"

namespace pm::attachments::detail {

namespace {

// Real documents nest a few dozen levels; hostile XML can nest a million. The walker is
// recursive, so it stops descending here rather than overflow the stack.
constexpr int kMaxXmlDepth = 256;

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// `HYPERLINK "https://x.example/" \o "tip"` -> https://x.example/
void field_link(std::string_view instr, std::vector<std::string>& links) {
  auto pos = instr.find("HYPERLINK");
  if (pos == std::string_view::npos) return;
  auto q1 = instr.find('"', pos);
  if (q1 == std::string_view::npos) return;
  auto q2 = instr.find('"', q1 + 1);
  if (q2 == std::string_view::npos) return;
  links.emplace_back(instr.substr(q1 + 1, q2 - q1 - 1));
}

struct Walker {
  std::string out;
  std::vector<std::string>& links;
  const std::map<std::string, std::string>* rels = nullptr;
  int in_cell = 0;

  void text_of(const pugi::xml_node& n) {
    for (pugi::xml_node c = n.first_child(); c; c = c.next_sibling())
      if (c.type() == pugi::node_pcdata || c.type() == pugi::node_cdata) out += c.value();
  }

  void walk(const pugi::xml_node& node, int depth) {
    if (depth > kMaxXmlDepth) return;
    for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling()) {
      if (c.type() != pugi::node_element) continue;
      std::string_view ln = local_name(c.name());
      if (ln == "t" || ln == "delText") {
        text_of(c);  // deleted tracked changes still travel with the file
      } else if (ln == "instrText") {
        std::string saved;
        saved.swap(out);
        text_of(c);
        field_link(out, links);
        out.swap(saved);
      } else if (ln == "fldSimple") {
        field_link(c.attribute("w:instr").value(), links);
        walk(c, depth + 1);
      } else if (ln == "hyperlink" && rels) {
        walk(c, depth + 1);
        auto it = rels->find(c.attribute("r:id").value());
        if (it != rels->end()) out += " <" + it->second + ">";
      } else if (ln == "tab") {
        out += '\t';
      } else if (ln == "br" || ln == "cr") {
        out += '\n';
      } else if (ends_with(ln, "Pr") || ln == "Fallback" || ln == "tabs") {
        // properties carry no text; mc:Fallback repeats the mc:Choice content
      } else if (ln == "p" || ln == "comment") {
        walk(c, depth + 1);
        out += in_cell ? ' ' : '\n';
      } else if (ln == "tc") {
        ++in_cell;
        walk(c, depth + 1);
        --in_cell;
        while (!out.empty() && out.back() == ' ') out.pop_back();  // the cell's last paragraph
        out += '\t';
      } else if (ln == "tr") {
        walk(c, depth + 1);
        out += '\n';
      } else {
        walk(c, depth + 1);
      }
    }
  }
};

}  // namespace

void parse_xml(pugi::xml_document& doc, std::string& data) {
  // parse_ws_pcdata_single keeps <w:t xml:space="preserve"> </w:t> (a lone space between
  // words); parse_doctype stays off: DTDs are skipped, never interpreted.
  unsigned flags = pugi::parse_default | pugi::parse_ws_pcdata_single;
  pugi::xml_parse_result r =
      doc.load_buffer_inplace(data.data(), data.size(), flags, pugi::encoding_auto);
  if (!r) throw std::runtime_error("malformed XML");
}

std::string office_text(const pugi::xml_node& root, std::vector<std::string>& links) {
  Walker w{{}, links, nullptr};
  w.walk(root, 0);
  return std::move(w.out);
}

std::string office_text(const pugi::xml_node& root, std::vector<std::string>& links,
                        const std::map<std::string, std::string>& rels) {
  Walker w{{}, links, &rels};
  w.walk(root, 0);
  return std::move(w.out);
}

std::map<std::string, std::string> hyperlink_map(const pugi::xml_node& rels_root) {
  std::map<std::string, std::string> out;
  pugi::xml_node top = rels_root.find_child([](pugi::xml_node n) { return n.type() == pugi::node_element; });
  for (pugi::xml_node rel : top.children()) {
    if (local_name(rel.name()) != "Relationship") continue;
    if (ends_with(rel.attribute("Type").value(), "/hyperlink"))
      out[rel.attribute("Id").value()] = rel.attribute("Target").value();
  }
  return out;
}

std::vector<std::string> hyperlink_targets(const pugi::xml_node& rels_root) {
  std::vector<std::string> out;
  pugi::xml_node top = rels_root.find_child([](pugi::xml_node n) { return n.type() == pugi::node_element; });
  for (pugi::xml_node rel : top.children()) {
    if (local_name(rel.name()) != "Relationship") continue;
    std::string_view type = rel.attribute("Type").value();
    if (ends_with(type, "/hyperlink") &&
        std::string_view(rel.attribute("TargetMode").value()) == "External")
      out.emplace_back(rel.attribute("Target").value());
  }
  return out;
}

}  // namespace pm::attachments::detail
