// HTML to text with a single-pass tokenizer (WHATWG tokenizer states, no tree building).
// Why not gumbo: on 20 KB mail bodies gumbo runs at about 17 MB/s - it builds a full DOM
// with positions - and the engine's budget is 50 MB/s end to end; rendering text needs
// only the token stream. What the tree would add (implied end tags, foster parenting)
// does not change which words a reader sees or which links a message carries.
// Named entities use the full HTML5 table (html_entities.inc), numeric ones the HTML5
// rules (windows-1252 remap of 0x80-0x9F, invalid -> U+FFFD), in text and attributes.
#include "decode/text/html.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>

#include "decode/text/charset.h"

namespace pm::text {
namespace {

#include "decode/text/html_entities.inc"

bool is_html_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_alnum(char c) { return is_alpha(c) || (c >= '0' && c <= '9'); }
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

// HTML5 numeric character reference fix-ups for 0x80..0x9F (windows-1252).
constexpr char16_t kC1[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

const NamedEntity* find_entity(std::string_view name) {
  const NamedEntity* begin = std::begin(kNamedEntities);
  const NamedEntity* end = std::end(kNamedEntities);
  const NamedEntity* it = std::lower_bound(
      begin, end, name, [](const NamedEntity& e, std::string_view n) { return std::string_view(e.name) < n; });
  if (it != end && std::string_view(it->name) == name) return it;
  return nullptr;
}

// Decodes the character reference at s[i] == '&'; appends it and returns the bytes used,
// or 0 if there is none (the '&' is literal).
std::size_t decode_reference(std::string_view s, std::size_t i, bool in_attribute, std::string& out) {
  std::size_t j = i + 1;
  if (j < s.size() && s[j] == '#') {
    ++j;
    bool hex = j < s.size() && (s[j] == 'x' || s[j] == 'X');
    if (hex) ++j;
    std::size_t digits_start = j;
    std::uint32_t value = 0;
    while (j < s.size() && (hex ? std::isxdigit(static_cast<unsigned char>(s[j])) : std::isdigit(static_cast<unsigned char>(s[j])))) {
      int d = std::isdigit(static_cast<unsigned char>(s[j])) ? s[j] - '0' : lower(s[j]) - 'a' + 10;
      if (value < 0x110000) value = value * (hex ? 16 : 10) + static_cast<std::uint32_t>(d);
      ++j;
    }
    if (j == digits_start) return 0;
    if (j < s.size() && s[j] == ';') ++j;
    if (value == 0 || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) value = 0xFFFD;
    else if (value >= 0x80 && value <= 0x9F) value = kC1[value - 0x80];
    append_utf8(out, value);
    return j - i;
  }
  // Named: the longest name in the table that the text starts with.
  std::size_t k = j;
  while (k < s.size() && k - j < 32 && is_alnum(s[k])) ++k;
  if (k == j) return 0;
  if (k < s.size() && s[k] == ';') {
    std::string name(s.substr(j, k - j + 1));
    if (const NamedEntity* e = find_entity(name)) {
      out += e->utf8;
      return k + 1 - i;
    }
  }
  // Legacy names without ';' ("&amp", "&copy"): longest prefix that is one.
  for (std::size_t len = k - j; len >= 2; --len) {
    const NamedEntity* e = find_entity(s.substr(j, len));
    if (!e) continue;
    std::size_t after = j + len;
    // In attributes "&amp=..." / "&ampx" stay literal (URL query strings).
    if (in_attribute && after < s.size() && (s[after] == '=' || is_alnum(s[after]))) return 0;
    out += e->utf8;
    return after - i;
  }
  return 0;
}

void decode_entities(std::string_view s, bool in_attribute, std::string& out) {
  std::size_t i = 0;
  while (i < s.size()) {
    const void* amp = std::memchr(s.data() + i, '&', s.size() - i);
    std::size_t stop = amp ? static_cast<std::size_t>(static_cast<const char*>(amp) - s.data()) : s.size();
    out.append(s.data() + i, stop - i);
    i = stop;
    if (i >= s.size()) break;
    std::size_t used = decode_reference(s, i, in_attribute, out);
    if (used == 0) {
      out.push_back('&');
      ++i;
    } else {
      i += used;
    }
  }
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


bool is_block(std::string_view t) {
  static constexpr std::string_view kBlocks[] = {
      "address", "article", "aside", "blockquote", "body", "caption", "center", "dd",
      "details", "dialog", "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure",
      "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "html",
      "legend", "li", "listing", "main", "menu", "nav", "ol", "option", "p", "pre", "section",
      "summary", "table", "tbody", "textarea", "tfoot", "thead", "tr", "ul"};
  for (auto b : kBlocks)
    if (t == b) return true;
  return false;
}

// Elements whose content is raw text the tokenizer skips to their end tag, unseen.
// (Mail clients run no scripts, so <noscript> content is shown and parsed normally.)
bool is_hidden_raw(std::string_view t) {
  return t == "script" || t == "style" || t == "title" || t == "xmp" || t == "iframe" ||
         t == "noembed" || t == "noframes";
}

bool has_class_token(std::string_view s, std::string_view token) {
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_html_space(s[i])) ++i;
    std::size_t j = i;
    while (j < s.size() && !is_html_space(s[j])) ++j;
    if (j > i && iequals(s.substr(i, j - i), token)) return true;
    i = j;
  }
  return false;
}

// Attributes whose value is a URL the reader can follow or the client loads.
bool is_link_attribute(std::string_view name) {
  return name == "href" || name == "src" || name == "action" || name == "formaction" ||
         name == "background" || name == "poster" || name == "cite" || name == "data";
}

// Appends the cleaned target to `links` and returns it ("" when it is not a target).
std::string add_link(std::string_view v, std::vector<std::string>& links) {
  while (!v.empty() && (is_html_space(v.front()) || v.front() == '\0')) v.remove_prefix(1);
  while (!v.empty() && is_html_space(v.back())) v.remove_suffix(1);
  if (v.empty() || v.front() == '#') return {};  // in-page anchor, not a target
  // data: URIs carry content, not a place; cid: points at another part of this message.
  if (v.size() >= 5 && iequals(v.substr(0, 5), "data:")) return {};
  if (v.size() >= 4 && iequals(v.substr(0, 4), "cid:")) return {};
  std::string link;
  link.reserve(v.size());
  // Browsers drop tabs and newlines inside a URL; a split URL must match whole.
  for (char c : v)
    if (c != '\t' && c != '\n' && c != '\r') link.push_back(c);
  links.push_back(link);
  return link;
}

// A web link's target, shown after its anchor text ("my blog <https://...>") the way
// text-mode mail clients render it: the words that present a link are its context.
bool is_web_link(std::string_view link) {
  auto starts = [&](std::string_view p) { return link.size() >= p.size() && iequals(link.substr(0, p.size()), p); };
  return starts("http://") || starts("https://") || starts("www.");
}

struct Tag {
  std::string name;  // lower case
  bool end = false;
  std::vector<std::pair<std::string, std::string>> attributes;  // lower name, decoded value
  const std::string* attribute(std::string_view n) const {
    for (const auto& [k, v] : attributes)
      if (k == n) return &v;
    return nullptr;
  }
};

// Reads a tag starting at s[i] == '<' (followed by a letter, or '/' and a letter);
// returns the index after its '>' (or the end of input).
std::size_t read_tag(std::string_view s, std::size_t i, Tag& tag) {
  tag.name.clear();
  tag.attributes.clear();
  std::size_t j = i + 1;
  tag.end = s[j] == '/';
  if (tag.end) ++j;
  while (j < s.size() && !is_html_space(s[j]) && s[j] != '/' && s[j] != '>') tag.name.push_back(lower(s[j++]));
  while (j < s.size()) {
    while (j < s.size() && (is_html_space(s[j]) || s[j] == '/')) ++j;
    if (j >= s.size()) break;
    if (s[j] == '>') return j + 1;
    std::size_t name_start = j;
    ++j;  // the first character may be '=' (WHATWG), never ends the name
    while (j < s.size() && !is_html_space(s[j]) && s[j] != '/' && s[j] != '>' && s[j] != '=') ++j;
    std::string name(s.substr(name_start, j - name_start));
    for (char& c : name) c = lower(c);
    while (j < s.size() && is_html_space(s[j])) ++j;
    std::string value;
    if (j < s.size() && s[j] == '=') {
      ++j;
      while (j < s.size() && is_html_space(s[j])) ++j;
      std::string_view raw;
      if (j < s.size() && (s[j] == '"' || s[j] == '\'')) {
        char q = s[j++];
        std::size_t close = s.find(q, j);
        if (close == std::string_view::npos) close = s.size();
        raw = s.substr(j, close - j);
        j = close < s.size() ? close + 1 : close;
      } else {
        std::size_t v0 = j;
        while (j < s.size() && !is_html_space(s[j]) && s[j] != '>') ++j;
        raw = s.substr(v0, j - v0);
      }
      decode_entities(raw, true, value);
    }
    if (!tag.end && tag.attributes.size() < 64) tag.attributes.emplace_back(std::move(name), std::move(value));
  }
  return s.size();
}

// Outlook (<div id="Signature">, OWA "signature"), Apple Mail, Gmail, Thunderbird.
bool is_signature_element(const Tag& tag) {
  if (const std::string* id = tag.attribute("id")) {
    if (iequals(*id, "signature") || iequals(*id, "AppleMailSignature") ||
        iequals(*id, "divRplyFwdMsg_signature"))
      return true;
  }
  if (const std::string* cls = tag.attribute("class")) {
    if (has_class_token(*cls, "gmail_signature") || has_class_token(*cls, "moz-signature") ||
        has_class_token(*cls, "elementToProof-signature"))
      return true;
  }
  return false;
}

// Index of the end tag "</name" (any case) from `from`, or npos.
std::size_t find_end_tag(std::string_view s, std::size_t from, std::string_view name) {
  while (from < s.size()) {
    std::size_t lt = s.find("</", from);
    if (lt == std::string_view::npos) return lt;
    std::size_t after = lt + 2 + name.size();
    if (after <= s.size() && iequals(s.substr(lt + 2, name.size()), name) &&
        (after == s.size() || is_html_space(s[after]) || s[after] == '>' || s[after] == '/'))
      return lt;
    from = lt + 2;
  }
  return std::string_view::npos;
}

}  // namespace

HtmlText html_to_text(std::string_view html_utf8) {
  HtmlText result;
  std::string repaired;
  if (!is_valid_utf8(html_utf8)) {
    repaired = to_utf8(html_utf8, "utf-8");
    html_utf8 = repaired;
  }
  const std::string_view s = html_utf8;
  result.text.reserve(s.size() / 2);
  TextBuilder tb(result.text);
  std::string decoded;
  Tag tag;
  int pre_depth = 0;
  int template_depth = 0;
  std::string open_href;       // target of the <a> being read
  std::size_t open_at = 0;     // where its anchor text starts in result.text
  std::size_t i = 0;
  while (i < s.size()) {
    // Text up to the next '<'.
    const void* lt = std::memchr(s.data() + i, '<', s.size() - i);
    std::size_t stop = lt ? static_cast<std::size_t>(static_cast<const char*>(lt) - s.data()) : s.size();
    if (stop > i && template_depth == 0) {
      decoded.clear();
      decode_entities(s.substr(i, stop - i), false, decoded);
      tb.text(decoded, pre_depth > 0);
    }
    i = stop;
    if (i >= s.size()) break;
    // s[i] == '<'
    if (s.compare(i, 4, "<!--") == 0) {
      std::size_t close = s.find("-->", i + 4);
      i = close == std::string_view::npos ? s.size() : close + 3;
      continue;
    }
    if (i + 1 < s.size() && (s[i + 1] == '!' || s[i + 1] == '?')) {
      std::size_t close = s.find('>', i + 2);  // doctype, CDATA, bogus comment
      i = close == std::string_view::npos ? s.size() : close + 1;
      continue;
    }
    const bool starts_tag = i + 1 < s.size() && (is_alpha(s[i + 1]) ||
                                                (s[i + 1] == '/' && i + 2 < s.size() && is_alpha(s[i + 2])));
    if (!starts_tag) {
      if (i + 1 < s.size() && s[i + 1] == '/') {  // "</>" or "</ junk>" - a bogus comment
        std::size_t close = s.find('>', i + 2);
        i = close == std::string_view::npos ? s.size() : close + 1;
        continue;
      }
      if (template_depth == 0) tb.text("<", pre_depth > 0);
      ++i;
      continue;
    }
    i = read_tag(s, i, tag);
    const std::string& name = tag.name;
    if (tag.end) {
      if (name == "template") template_depth = std::max(0, template_depth - 1);
      if (template_depth > 0) continue;
      if (name == "pre" || name == "listing" || name == "textarea") pre_depth = std::max(0, pre_depth - 1);
      if (name == "br") tb.line_break();
      else if (is_block(name)) tb.block_break();
      if (name == "a" && !open_href.empty()) {
        std::string_view anchor = std::string_view(result.text).substr(std::min(open_at, result.text.size()));
        std::string_view bare = open_href;
        for (std::string_view p : {"https://", "http://"})
          if (bare.size() > p.size() && iequals(bare.substr(0, p.size()), p)) bare.remove_prefix(p.size());
        if (anchor.find(bare) == std::string_view::npos) tb.text(" <" + open_href + ">", false);
        open_href.clear();
      }
      continue;
    }
    for (const auto& [attr, value] : tag.attributes) {
      if (!is_link_attribute(attr)) continue;
      std::string link = add_link(value, result.links);
      if (name == "a" && attr == "href" && is_web_link(link)) {
        open_href = std::move(link);
        open_at = tb.size();
      }
    }
    if (name == "template") {
      ++template_depth;
      continue;
    }
    if (template_depth > 0) continue;
    if (is_hidden_raw(name)) {
      std::size_t end = find_end_tag(s, i, name);
      i = end == std::string_view::npos ? s.size() : end;
      continue;
    }
    if (name == "plaintext") {  // everything after it is text, tags included
      tb.block_break();
      tb.text(s.substr(i), true);
      break;
    }
    if (name == "br") {
      tb.line_break();
    } else if (name == "td" || name == "th") {
      tb.cell_break();
    } else if (is_block(name)) {
      tb.block_break();
      if (name == "pre" || name == "listing" || name == "textarea") ++pre_depth;
    } else if (name == "img") {
      // An image's alt text is what a reader sees when images are blocked.
      if (const std::string* alt = tag.attribute("alt")) tb.text(*alt, false);
    }
    if (result.signature_start == std::string::npos && is_signature_element(tag)) {
      tb.flush_separators();
      result.signature_start = tb.size();
    }
  }
  tb.finish();
  if (result.signature_start != std::string::npos && result.signature_start >= result.text.size())
    result.signature_start = std::string::npos;  // an empty signature block
  return result;
}

}  // namespace pm::text
