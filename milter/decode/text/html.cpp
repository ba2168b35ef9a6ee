// HTML to text with gumbo. The tree is walked with an explicit stack, not recursion: a
// hostile message can nest elements hundreds of thousands deep. gumbo already decodes
// named, decimal and hex entities in text and attribute values.
#include "decode/text/html.h"

#include <gumbo.h>

#include <cstring>
#include <memory>

#include "decode/text/charset.h"

namespace pm::text {
namespace {

bool is_html_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

bool is_block(GumboTag t) {
  switch (t) {
    case GUMBO_TAG_ADDRESS: case GUMBO_TAG_ARTICLE: case GUMBO_TAG_ASIDE:
    case GUMBO_TAG_BLOCKQUOTE: case GUMBO_TAG_CENTER: case GUMBO_TAG_DD:
    case GUMBO_TAG_DETAILS: case GUMBO_TAG_DIR: case GUMBO_TAG_DIV:
    case GUMBO_TAG_DL: case GUMBO_TAG_DT: case GUMBO_TAG_FIELDSET: case GUMBO_TAG_FIGCAPTION:
    case GUMBO_TAG_FIGURE: case GUMBO_TAG_FOOTER: case GUMBO_TAG_FORM: case GUMBO_TAG_H1:
    case GUMBO_TAG_H2: case GUMBO_TAG_H3: case GUMBO_TAG_H4: case GUMBO_TAG_H5:
    case GUMBO_TAG_H6: case GUMBO_TAG_HEADER: case GUMBO_TAG_HGROUP: case GUMBO_TAG_HR:
    case GUMBO_TAG_LI: case GUMBO_TAG_MAIN: case GUMBO_TAG_MENU: case GUMBO_TAG_NAV:
    case GUMBO_TAG_OL: case GUMBO_TAG_P: case GUMBO_TAG_PRE: case GUMBO_TAG_SECTION:
    case GUMBO_TAG_SUMMARY: case GUMBO_TAG_TABLE: case GUMBO_TAG_TR: case GUMBO_TAG_UL:
    case GUMBO_TAG_CAPTION: case GUMBO_TAG_OPTION: case GUMBO_TAG_LEGEND:
    case GUMBO_TAG_TEXTAREA: case GUMBO_TAG_LISTING: case GUMBO_TAG_BODY:
      return true;
    default:
      return false;
  }
}

// Content a reader never sees. (Mail clients run no scripts, so <noscript> text is shown.)
bool is_hidden(GumboTag t) {
  return t == GUMBO_TAG_SCRIPT || t == GUMBO_TAG_STYLE || t == GUMBO_TAG_HEAD ||
         t == GUMBO_TAG_TEMPLATE || t == GUMBO_TAG_TITLE;
}

bool keeps_whitespace(GumboTag t) {
  return t == GUMBO_TAG_PRE || t == GUMBO_TAG_TEXTAREA || t == GUMBO_TAG_LISTING ||
         t == GUMBO_TAG_PLAINTEXT;
}

bool iequals_ascii(const char* a, std::string_view b) {
  std::size_t n = std::strlen(a);
  if (n != b.size()) return false;
  for (std::size_t i = 0; i < n; ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool has_class_token(const char* cls, std::string_view token) {
  std::string_view s(cls);
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_html_space(s[i])) ++i;
    std::size_t j = i;
    while (j < s.size() && !is_html_space(s[j])) ++j;
    if (j > i && iequals_ascii(std::string(s.substr(i, j - i)).c_str(), token)) return true;
    i = j;
  }
  return false;
}

// Outlook (<div id="Signature">, OWA "signature"), Apple Mail, Gmail, Thunderbird.
bool is_signature_element(const GumboElement& el) {
  if (const GumboAttribute* id = gumbo_get_attribute(&el.attributes, "id")) {
    if (iequals_ascii(id->value, "signature") || iequals_ascii(id->value, "AppleMailSignature") ||
        iequals_ascii(id->value, "divRplyFwdMsg_signature"))
      return true;
  }
  if (const GumboAttribute* cls = gumbo_get_attribute(&el.attributes, "class")) {
    if (has_class_token(cls->value, "gmail_signature") ||
        has_class_token(cls->value, "moz-signature") ||
        has_class_token(cls->value, "elementToProof-signature"))
      return true;
  }
  return false;
}

// Attributes whose value is a URL the reader can follow or the client loads.
constexpr const char* kLinkAttributes[] = {"href", "src", "action", "formaction",
                                           "background", "poster", "cite", "data"};

void add_link(const char* value, std::vector<std::string>& links) {
  std::string_view v(value);
  while (!v.empty() && (is_html_space(v.front()) || v.front() == '\0')) v.remove_prefix(1);
  while (!v.empty() && is_html_space(v.back())) v.remove_suffix(1);
  if (v.empty() || v.front() == '#') return;  // in-page anchor, not a target
  // data: URIs carry content, not a place; cid: points at another part of this message.
  if (v.size() >= 5 && iequals_ascii("data:", v.substr(0, 5))) return;
  if (v.size() >= 4 && iequals_ascii("cid:", v.substr(0, 4))) return;
  std::string link;
  link.reserve(v.size());
  // Browsers drop tabs and newlines inside a URL; a split URL must match whole.
  for (char c : v)
    if (c != '\t' && c != '\n' && c != '\r') link.push_back(c);
  links.push_back(std::move(link));
}

class TextBuilder {
 public:
  explicit TextBuilder(std::string& out) : out_(out) {}

  void block_break() { if (!out_.empty()) pending_newline_ = true; }
  void line_break() {
    // <br> is a hard break even when several follow each other.
    out_.push_back('\n');
    pending_newline_ = false;
    pending_space_ = false;
  }
  void cell_break() {
    if (!out_.empty() && out_.back() != '\n' && !pending_newline_) {
      out_.push_back('\t');
      pending_space_ = false;
    }
  }
  // Forces pending separators out, so an offset taken now is where the next text starts.
  void flush_separators() {
    if (pending_newline_ && !out_.empty() && out_.back() != '\n') out_.push_back('\n');
    pending_newline_ = false;
    pending_space_ = false;
  }
  std::size_t size() const { return out_.size(); }

  void text(std::string_view s, bool preformatted) {
    if (preformatted) {
      if (s.empty()) return;
      emit_separators();
      out_.append(s);
      return;
    }
    std::size_t i = 0;
    while (i < s.size()) {
      if (is_html_space(s[i])) {
        pending_space_ = true;
        ++i;
        continue;
      }
      std::size_t j = i;
      while (j < s.size() && !is_html_space(s[j])) ++j;
      emit_separators();
      out_.append(s.data() + i, j - i);
      i = j;
    }
  }

  void finish() {
    while (!out_.empty() && (out_.back() == '\n' || out_.back() == ' ' || out_.back() == '\t'))
      out_.pop_back();
  }

 private:
  void emit_separators() {
    if (pending_newline_) {
      if (!out_.empty() && out_.back() != '\n') out_.push_back('\n');
    } else if (pending_space_ && !out_.empty() && out_.back() != '\n' && out_.back() != '\t' &&
               out_.back() != ' ') {
      out_.push_back(' ');
    }
    pending_newline_ = false;
    pending_space_ = false;
  }

  std::string& out_;
  bool pending_newline_ = false;
  bool pending_space_ = false;
};

struct OutputDeleter {
  void operator()(GumboOutput* o) const { gumbo_destroy_output(&kGumboDefaultOptions, o); }
};

const GumboVector* children_of(const GumboNode* n) {
  if (n->type == GUMBO_NODE_DOCUMENT) return &n->v.document.children;
  if (n->type == GUMBO_NODE_ELEMENT || n->type == GUMBO_NODE_TEMPLATE) return &n->v.element.children;
  return nullptr;
}

}  // namespace

HtmlText html_to_text(std::string_view html_utf8) {
  HtmlText result;
  // gumbo wants UTF-8; callers normally convert first, but be safe with stray bytes.
  std::string repaired;
  if (!is_valid_utf8(html_utf8)) {
    repaired = to_utf8(html_utf8, "utf-8");
    html_utf8 = repaired;
  }
  GumboOptions options = kGumboDefaultOptions;
  options.max_errors = 0;  // we never read parse errors; recording them costs time
  std::unique_ptr<GumboOutput, OutputDeleter> output(
      gumbo_parse_with_options(&options, html_utf8.data(), html_utf8.size()));
  if (!output) return result;

  result.text.reserve(html_utf8.size() / 2);
  TextBuilder tb(result.text);

  struct Frame {
    const GumboNode* node;
    unsigned next_child;
    bool hidden;
    bool pre;
  };
  std::vector<Frame> stack;
  stack.push_back({output->document, 0, false, false});
  // Entering the document node itself has no effect; elements are handled on push.
  while (!stack.empty()) {
    Frame& f = stack.back();
    const GumboVector* kids = children_of(f.node);
    if (!kids || f.next_child >= kids->length) {
      // Leaving an element.
      const GumboNode* n = f.node;
      stack.pop_back();
      if (n->type == GUMBO_NODE_ELEMENT && !is_hidden(n->v.element.tag) &&
          is_block(n->v.element.tag))
        tb.block_break();
      continue;
    }
    const auto* child = static_cast<const GumboNode*>(kids->data[f.next_child++]);
    const bool hidden = f.hidden;
    const bool pre = f.pre;
    switch (child->type) {
      case GUMBO_NODE_TEXT:
      case GUMBO_NODE_CDATA:
      case GUMBO_NODE_WHITESPACE:
        if (!hidden) tb.text(child->v.text.text, pre);
        break;
      case GUMBO_NODE_ELEMENT:
      case GUMBO_NODE_TEMPLATE: {
        const GumboElement& el = child->v.element;
        for (unsigned a = 0; a < el.attributes.length; ++a) {
          const auto* attr = static_cast<const GumboAttribute*>(el.attributes.data[a]);
          for (const char* name : kLinkAttributes) {
            if (std::strcmp(attr->name, name) == 0) {
              add_link(attr->value, result.links);
              break;
            }
          }
        }
        const bool child_hidden = hidden || is_hidden(el.tag);
        if (!child_hidden) {
          if (el.tag == GUMBO_TAG_BR) {
            tb.line_break();
          } else if (el.tag == GUMBO_TAG_TD || el.tag == GUMBO_TAG_TH) {
            tb.cell_break();
          } else if (is_block(el.tag)) {
            tb.block_break();
          } else if (el.tag == GUMBO_TAG_IMG) {
            // An image's alt text is what a reader sees when images are blocked.
            if (const GumboAttribute* alt = gumbo_get_attribute(&el.attributes, "alt"))
              tb.text(alt->value, false);
          }
          if (result.signature_start == std::string::npos && is_signature_element(el)) {
            tb.flush_separators();
            result.signature_start = tb.size();
          }
        }
        stack.push_back({child, 0, child_hidden, pre || keeps_whitespace(el.tag)});
        break;
      }
      default:
        break;  // comments, document type
    }
  }
  tb.finish();
  if (result.signature_start != std::string::npos && result.signature_start >= result.text.size())
    result.signature_start = std::string::npos;  // an empty signature block
  return result;
}

}  // namespace pm::text
