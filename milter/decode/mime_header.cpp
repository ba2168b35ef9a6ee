#include "decode/mime_header.h"

#include <algorithm>
#include <map>

#include "decode/codec.h"
#include "decode/text/charset.h"

namespace pm::mime {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string lower_copy(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = lower(c);
  return r;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

void skip_space_and_comments(std::string_view v, std::size_t& i) {
  while (i < v.size()) {
    if (is_space(v[i])) {
      ++i;
    } else if (v[i] == '(') {
      int level = 0;
      while (i < v.size()) {
        if (v[i] == '\\') { i += 2; continue; }
        if (v[i] == '(') ++level;
        if (v[i] == ')' && --level == 0) { ++i; break; }
        ++i;
      }
    } else {
      break;
    }
  }
}

// Reads a quoted string at v[i] == '"'; returns its unescaped content.
std::string read_quoted(std::string_view v, std::size_t& i) {
  std::string out;
  ++i;
  while (i < v.size() && v[i] != '"') {
    if (v[i] == '\\' && i + 1 < v.size()) ++i;
    out.push_back(v[i]);
    ++i;
  }
  if (i < v.size()) ++i;  // closing quote
  return out;
}

std::string percent_decode(std::string_view s) {
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

const std::string* HeaderValue::param(std::string_view name) const {
  for (const auto& [k, v] : params)
    if (k == name) return &v;
  return nullptr;
}

HeaderValue parse_header_value(std::string_view v, bool has_subtype) {
  HeaderValue hv;
  std::size_t i = 0;
  skip_space_and_comments(v, i);
  std::size_t start = i;
  while (i < v.size() && v[i] != ';' && v[i] != '/' && !is_space(v[i]) && v[i] != '(') ++i;
  hv.type = lower_copy(v.substr(start, i - start));
  skip_space_and_comments(v, i);
  if (has_subtype && i < v.size() && v[i] == '/') {
    ++i;
    skip_space_and_comments(v, i);
    start = i;
    while (i < v.size() && v[i] != ';' && !is_space(v[i]) && v[i] != '(') ++i;
    hv.subtype = lower_copy(v.substr(start, i - start));
  }
  // Parameters; RFC 2231 pieces are collected first, then joined in order.
  struct Piece {
    std::string value;
    bool extended;
  };
  std::map<std::string, std::map<int, Piece>> split;
  std::vector<std::string> order;
  while (i < v.size()) {
    std::size_t semi = i;
    while (semi < v.size() && v[semi] != ';') {
      if (v[semi] == '"') {  // a ';' inside quotes does not end the parameter
        std::size_t q = semi;
        read_quoted(v, q);
        semi = q;
        continue;
      }
      ++semi;
    }
    if (semi >= v.size()) break;
    i = semi + 1;
    skip_space_and_comments(v, i);
    start = i;
    while (i < v.size() && v[i] != '=' && v[i] != ';' && !is_space(v[i])) ++i;
    std::string name = lower_copy(v.substr(start, i - start));
    skip_space_and_comments(v, i);
    if (i >= v.size() || v[i] != '=' || name.empty()) continue;
    ++i;
    skip_space_and_comments(v, i);
    std::string value;
    bool quoted = false;
    if (i < v.size() && v[i] == '"') {
      value = read_quoted(v, i);
      quoted = true;
    } else {
      start = i;
      while (i < v.size() && v[i] != ';' && !is_space(v[i])) ++i;
      value.assign(v.substr(start, i - start));
    }
    // name*  /  name*N  /  name*N*
    int index = -1;
    bool extended = false;
    std::string base = name;
    if (auto star = name.find('*'); star != std::string::npos) {
      base = name.substr(0, star);
      std::string rest = name.substr(star + 1);
      if (!rest.empty() && rest.back() == '*') {
        extended = true;
        rest.pop_back();
      } else if (rest.empty()) {
        extended = true;  // "name*="
      }
      if (!rest.empty()) {
        index = 0;
        for (char c : rest) {
          if (c < '0' || c > '9' || index > 10000) { index = -2; break; }
          index = index * 10 + (c - '0');
        }
        if (index == -2) continue;
      } else {
        index = 0;
      }
    }
    if (index < 0) {
      // Plain parameter; quoted values may carry RFC 2047 words (Outlook file names).
      std::string decoded = quoted || value.find("=?") != std::string::npos
                                ? decode_header_value(value)
                                : text::to_utf8(value, "");
      if (!hv.param(name)) hv.params.emplace_back(name, std::move(decoded));
      continue;
    }
    if (!split.count(base)) order.push_back(base);
    split[base][index] = Piece{std::move(value), extended};
  }
  for (const auto& base : order) {
    std::string charset, bytes;
    bool first = true;
    for (auto& [idx, piece] : split[base]) {
      std::string_view val = piece.value;
      if (piece.extended && first) {
        // charset'lang'value
        auto q1 = val.find('\'');
        auto q2 = q1 == std::string_view::npos ? q1 : val.find('\'', q1 + 1);
        if (q2 != std::string_view::npos) {
          charset.assign(val.substr(0, q1));
          val = val.substr(q2 + 1);
        }
      }
      bytes += piece.extended ? percent_decode(val) : std::string(val);
      first = false;
    }
    // An RFC 2231 value wins over a plain one of the same name.
    std::string decoded = text::to_utf8(bytes, charset);
    auto it = std::find_if(hv.params.begin(), hv.params.end(),
                           [&](const auto& p) { return p.first == base; });
    if (it != hv.params.end())
      it->second = std::move(decoded);
    else
      hv.params.emplace_back(base, std::move(decoded));
  }
  return hv;
}

std::vector<Address> parse_address_list(std::string_view v) {
  std::vector<Address> out;
  std::size_t i = 0;
  while (i < v.size()) {
    // One mailbox: up to a ',' or ';' outside quotes, comments and angle brackets.
    std::string display_raw, comment, angle, bare;
    bool have_angle = false;
    while (i < v.size() && v[i] != ',' && v[i] != ';') {
      char c = v[i];
      if (c == '"') {
        std::size_t q = i;
        std::string quoted = read_quoted(v, q);
        display_raw += quoted;
        i = q;
      } else if (c == '(') {
        std::size_t s = i;
        skip_space_and_comments(v, i);
        std::string_view cm = v.substr(s, i - s);
        cm = trim(cm);
        if (cm.size() >= 2 && cm.front() == '(' && cm.back() == ')') cm = cm.substr(1, cm.size() - 2);
        comment.assign(cm);
      } else if (c == '<') {
        std::size_t close = v.find('>', i);
        if (close == std::string_view::npos) close = v.size();
        angle.assign(v.substr(i + 1, close - i - 1));
        have_angle = true;
        i = close < v.size() ? close + 1 : close;
      } else if (c == ':' && !have_angle) {
        // Group name "Staff: a@x.example, b@x.example;" - the name is not a mailbox.
        display_raw.clear();
        bare.clear();
        ++i;
      } else {
        (have_angle ? display_raw : bare).push_back(c);  // after <..> is junk; keep as text
        if (!have_angle) display_raw.push_back(c);
        ++i;
      }
    }
    if (i < v.size()) ++i;  // separator
    Address a;
    std::string spec;
    if (have_angle) {
      spec.assign(trim(angle));
      // Drop an obsolete source route "@a,@b:user@host".
      if (auto colon = spec.rfind(':'); colon != std::string::npos) spec = spec.substr(colon + 1);
      std::string_view disp = trim(display_raw);
      a.display = decode_header_value(disp);
    } else {
      spec.assign(trim(bare));
      if (!comment.empty()) a.display = decode_header_value(comment);
    }
    if (spec.empty()) continue;
    for (char& c : spec) c = lower(c);
    a.address = text::to_utf8(spec, "");
    a.display = std::string(trim(a.display));
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace pm::mime
