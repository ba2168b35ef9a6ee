// XML helpers shared by the OOXML and ODF readers (pugixml).
//
// Safety: pugixml never expands DTD entities (it has no DTD support; the DOCTYPE is skipped
// because parse_doctype is off, and an undeclared &lol9; stays literal text), so a
// billion-laughs part costs its own size and no more. Parts are read from the zip with
// caps before they get here (zip_archive.h), so memory is bounded by those limits.
#pragma once

#include <pugixml.hpp>

#include <map>
#include <string>
#include <vector>

namespace pm::attachments::detail {

// Parses `data` in place (the document points into it: keep `data` alive). Throws
// std::runtime_error when the XML is malformed.
void parse_xml(pugi::xml_document& doc, std::string& data);

// Word/DrawingML text as a person reads it: paragraphs on lines, table cells of a row
// tab-separated, tabs and breaks kept; property elements (*Pr) and mc:Fallback copies
// skipped. Field-code HYPERLINK targets go to `links`.
std::string office_text(const pugi::xml_node& root, std::vector<std::string>& links);
// The same, and a w:hyperlink whose r:id is in `rels` is shown as "anchor text <target>",
// so a rule sees the link next to the words that present it ("my blog").
std::string office_text(const pugi::xml_node& root, std::vector<std::string>& links,
                        const std::map<std::string, std::string>& rels);
// r:id -> target of the external hyperlinks of a relationships part.
std::map<std::string, std::string> hyperlink_map(const pugi::xml_node& rels_root);

// External hyperlink targets of an OOXML relationships part ("..._rels/x.xml.rels").
std::vector<std::string> hyperlink_targets(const pugi::xml_node& rels_root);

}  // namespace pm::attachments::detail
