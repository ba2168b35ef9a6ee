#include "decode/prescan.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "decode/mime_header.h"

namespace pm::mime {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_blank(char c) { return c == ' ' || c == '\t'; }

bool istarts(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (lower(s[i]) != prefix[i]) return false;
  return true;
}

bool icontains(std::string_view s, std::string_view needle) {
  if (s.size() < needle.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= s.size(); ++i)
    if (istarts(s.substr(i), needle)) return true;
  return false;
}

// "Content-Type   :" at the start of a line -> offset of the value, else npos.
std::size_t field_value(std::string_view line, std::string_view lower_name) {
  if (!istarts(line, lower_name)) return std::string_view::npos;
  std::size_t i = lower_name.size();
  while (i < line.size() && is_blank(line[i])) ++i;
  if (i < line.size() && line[i] == ':') return i + 1;
  return std::string_view::npos;
}

struct Edit {
  std::size_t begin, end;
  std::string replacement;
};

struct Level {
  bool multipart;
  std::string boundary;  // "--" + parameter, for multiparts
};

}  // namespace

std::size_t header_block_end(std::string_view raw) {
  std::size_t pos = 0;
  while (pos < raw.size()) {
    const void* nl = std::memchr(raw.data() + pos, '\n', raw.size() - pos);
    std::size_t end = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - raw.data()) : raw.size();
    std::string_view line = raw.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = nl ? end + 1 : raw.size();
    if (line.empty()) return pos;
  }
  return raw.size();
}

Prescan prescan(std::string_view raw, const Limits& limits, unsigned depth_budget) {
  Prescan result;
  std::vector<Edit> edits;
  std::vector<Level> stack;
  const std::size_t max_line = std::max<std::size_t>(limits.max_header_line_bytes, 64);
  const unsigned nesting_cap = std::clamp(limits.max_parts, 50u, 4000u);
  unsigned nesting_headers = 0;

  bool in_header = true;
  std::size_t logical_len = 0;       // current header field incl. folds so far
  bool capturing_ct = false, capturing_cte = false;
  std::string ct_value, cte_value;   // first Content-Type / CTE of the current header block
  bool have_ct = false, have_cte = false;
  std::size_t ct_begin = 0, ct_end = 0;
  auto reset_part = [&] {
    ct_value.clear();
    cte_value.clear();
    have_ct = have_cte = capturing_ct = capturing_cte = false;
    logical_len = 0;
  };
  auto cut_rest = [&](std::size_t at) { edits.push_back({at, raw.size(), ""}); };

  std::size_t pos = 0;
  const std::size_t n = raw.size();
  bool stop = false;
  while (pos < n && !stop) {
    const void* nl = std::memchr(raw.data() + pos, '\n', n - pos);
    const std::size_t eol = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - raw.data()) : n;
    const std::size_t next = nl ? eol + 1 : n;
    std::string_view line = raw.substr(pos, eol - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

    // Model-independent bound: every nesting level needs such a Content-Type line.
    if (!line.empty() && (line[0] == 'c' || line[0] == 'C')) {
      std::size_t v = field_value(line, "content-type");
      if (v != std::string_view::npos) {
        std::string_view rest = line.substr(v, std::min<std::size_t>(line.size() - v, 512));
        bool blank = rest.find_first_not_of(" \t") == std::string_view::npos;
        if (blank || icontains(rest, "multipart") || icontains(rest, "message")) {
          if (++nesting_headers > nesting_cap) {
            result.parts_cut = true;
            cut_rest(pos);
            stop = true;
            break;
          }
        }
      }
    }

    if (in_header) {
      const bool fold = !line.empty() && is_blank(line[0]);
      if (line.empty()) {
        // End of a header block: what mimetic does next depends on the type.
        in_header = false;
        HeaderValue ct = parse_header_value(ct_value, true);
        HeaderValue cte = parse_header_value(cte_value, false);
        const bool multipart = ct.type == "multipart";
        const bool rfc822 = ct.type == "message" && ct.subtype == "rfc822";
        if (rfc822 && (cte.type == "base64" || cte.type == "quoted-printable")) {
          std::string_view span = raw.substr(ct_begin, ct_end - ct_begin);
          for (std::size_t i = 0; i + 6 <= span.size(); ++i) {
            if (istarts(span.substr(i), "rfc822")) {
              edits.push_back({ct_begin + i, ct_begin + i + 6, std::string(kEncodedRfc822Subtype)});
              break;
            }
          }
        } else if (multipart || rfc822) {
          if (stack.size() + 1 > depth_budget) {
            result.depth_cut = true;
            cut_rest(next);
            stop = true;
          } else if (multipart) {
            const std::string* b = ct.param("boundary");
            stack.push_back({true, "--" + (b ? *b : std::string())});
          } else {
            stack.push_back({false, {}});
            in_header = true;  // the inner message's header follows at once
          }
        }
        reset_part();
      } else if (!fold && line.find(':') == std::string_view::npos) {
        // Not a header field: mimetic takes it as the first body line (no boundary check).
        in_header = false;
        reset_part();
      } else {
        std::size_t line_len = eol - pos;
        if (!fold) {
          logical_len = 0;
          capturing_ct = capturing_cte = false;
          if (!have_ct && field_value(line, "content-type") != std::string_view::npos) {
            have_ct = capturing_ct = true;
            ct_value.assign(line.substr(field_value(line, "content-type")).substr(0, 4096));
            ct_begin = pos;
            ct_end = eol;
          } else if (!have_cte &&
                     field_value(line, "content-transfer-encoding") != std::string_view::npos) {
            have_cte = capturing_cte = true;
            cte_value.assign(line.substr(field_value(line, "content-transfer-encoding")).substr(0, 256));
          }
        } else {
          if (capturing_ct && ct_value.size() < 4096) {
            ct_value.push_back(' ');
            ct_value.append(line.substr(0, 4096));
            ct_end = eol;
          }
          if (capturing_cte && cte_value.size() < 256) cte_value.append(line.substr(0, 256));
        }
        // Header line length, folds included.
        std::size_t allowed = logical_len < max_line ? max_line - logical_len : 0;
        logical_len += line_len;
        if (line_len > allowed) {
          result.header_line_cut = true;
          if (allowed == 0 && fold) {
            edits.push_back({pos, next, ""});  // drop the whole continuation line
          } else {
            edits.push_back({pos + allowed, pos + line.size(), ""});
          }
        } else if (std::memchr(line.data(), '\0', line.size())) {
          std::string fixed(line);
          std::replace(fixed.begin(), fixed.end(), '\0', ' ');
          edits.push_back({pos, pos + line.size(), std::move(fixed)});
        }
      }
    } else if (line.size() >= 2 && line[0] == '-' && line[1] == '-') {
      for (std::size_t k = stack.size(); k-- > 0;) {
        if (!stack[k].multipart) continue;
        const std::string& b = stack[k].boundary;
        if (line.substr(0, std::min(line.size(), b.size())) != b || line.size() < b.size()) continue;
        const bool closing = line.size() >= b.size() + 2 && line.substr(b.size(), 2) == "--";
        stack.resize(closing ? k : k + 1);
        if (!closing) {
          in_header = true;
          reset_part();
        }
        break;
      }
    }
    pos = next;
  }
  // mimetic adds a header field only when the next line starts: a message that ends inside
  // a header block would lose its last field.
  std::string tail;
  if (!raw.empty() && raw.back() != '\n' && !stop) tail += '\n';
  if (in_header && !raw.empty()) tail += '\n';
  if (!tail.empty()) edits.push_back({n, n, std::move(tail)});

  if (edits.empty()) return result;
  std::sort(edits.begin(), edits.end(), [](const Edit& a, const Edit& b) { return a.begin < b.begin; });
  result.edited = true;
  result.copy.reserve(raw.size() + 64);
  std::size_t at = 0;
  for (const Edit& e : edits) {
    if (e.begin < at) continue;  // overlapping (cannot happen; be safe)
    result.copy.append(raw.substr(at, e.begin - at));
    result.copy.append(e.replacement);
    at = e.end;
  }
  if (at < n) result.copy.append(raw.substr(at));
  return result;
}

}  // namespace pm::mime
