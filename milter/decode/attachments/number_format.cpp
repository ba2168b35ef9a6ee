#include "decode/attachments/number_format.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <vector>

namespace pm::attachments::detail {

namespace {

std::string general(double v) {
  if (!std::isfinite(v)) return "#NUM!";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

// Splits a code into its ';' sections (positive;negative;zero;text), quotes respected.
std::vector<std::string_view> sections(std::string_view code) {
  std::vector<std::string_view> out;
  bool quoted = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i < code.size(); ++i) {
    if (code[i] == '"') quoted = !quoted;
    else if (code[i] == '\\' && !quoted) ++i;
    else if (code[i] == ';' && !quoted) {
      out.push_back(code.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(code.substr(start));
  return out;
}

struct Civil {
  int y, m, d, hh, mm, ss;
  int weekday;  // 0 = Sunday
};

// Days since 1970-01-01 -> proleptic Gregorian date (H. Hinnant's algorithm).
void civil_from_days(long z, int& y, int& m, int& d) {
  z += 719468;
  long era = (z >= 0 ? z : z - 146096) / 146097;
  long doe = z - era * 146097;
  long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  long yy = yoe + era * 400;
  long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  long mp = (5 * doy + 2) / 153;
  d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  y = static_cast<int>(yy + (m <= 2));
}

Civil from_serial(double serial, bool date1904) {
  long days = static_cast<long>(std::floor(serial));
  double frac = serial - std::floor(serial);
  long secs = std::lround(frac * 86400.0);
  if (secs >= 86400) {
    secs -= 86400;
    ++days;
  }
  // Excel's 1900 system counts a 29 Feb 1900 that never was (serial 60), so serials from 61
  // on are days since 1899-12-30, earlier ones since 1899-12-31.
  long unix_days;
  if (date1904) unix_days = days - 24107;  // 1904-01-01 is day -24107
  else if (days >= 61) unix_days = days - 25569;
  else unix_days = days - 25568;
  Civil c{};
  civil_from_days(unix_days, c.y, c.m, c.d);
  c.hh = static_cast<int>(secs / 3600);
  c.mm = static_cast<int>(secs / 60 % 60);
  c.ss = static_cast<int>(secs % 60);
  c.weekday = static_cast<int>(((unix_days % 7) + 11) % 7);  // 1970-01-01 was a Thursday
  return c;
}

const char* kMonths[] = {"January", "February", "March",     "April",   "May",      "June",
                         "July",    "August",   "September", "October", "November", "December"};
const char* kDays[] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};

struct Token {
  char kind;  // 'y','m','d','h','s','M' (minutes),'a' (AM/PM), 'l' (literal)
  int count;
  std::string text;
};

std::vector<Token> date_tokens(std::string_view s) {
  std::vector<Token> toks;
  for (std::size_t i = 0; i < s.size();) {
    char c = s[i];
    char lc = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (c == '"') {
      std::size_t end = s.find('"', i + 1);
      if (end == std::string_view::npos) end = s.size();
      toks.push_back({'l', 0, std::string(s.substr(i + 1, end - i - 1))});
      i = end + 1;
    } else if (c == '\\' && i + 1 < s.size()) {
      toks.push_back({'l', 0, std::string(1, s[i + 1])});
      i += 2;
    } else if (c == '[') {
      std::size_t end = s.find(']', i);
      std::string_view inner = s.substr(i + 1, end == std::string_view::npos ? 0 : end - i - 1);
      if (!inner.empty() && std::string_view("hms").find(static_cast<char>(std::tolower(inner[0]))) != std::string_view::npos)
        toks.push_back({static_cast<char>(std::tolower(inner[0])) == 'm' ? 'M' : static_cast<char>(std::tolower(inner[0])),
                        static_cast<int>(inner.size()), {}});
      i = end == std::string_view::npos ? s.size() : end + 1;
    } else if (c == '_' || c == '*') {
      if (c == '_') toks.push_back({'l', 0, " "});
      i += 2;
    } else if (s.substr(i, 5) == "AM/PM" || s.substr(i, 5) == "am/pm") {
      toks.push_back({'a', 5, {}});
      i += 5;
    } else if (s.substr(i, 3) == "A/P" || s.substr(i, 3) == "a/p") {
      toks.push_back({'a', 3, {}});
      i += 3;
    } else if (lc == 'y' || lc == 'm' || lc == 'd' || lc == 'h' || lc == 's') {
      std::size_t j = i;
      while (j < s.size() && std::tolower(static_cast<unsigned char>(s[j])) == lc) ++j;
      toks.push_back({lc, static_cast<int>(j - i), {}});
      i = j;
    } else if (c == '.' && i + 1 < s.size() && s[i + 1] == '0') {
      while (i + 1 < s.size() && s[i + 1] == '0') ++i;  // fractional seconds: dropped
      ++i;
    } else {
      toks.push_back({'l', 0, std::string(1, c)});
      ++i;
    }
  }
  // "m" after an hour or before seconds is minutes.
  for (std::size_t i = 0; i < toks.size(); ++i) {
    if (toks[i].kind != 'm' || toks[i].count > 2) continue;
    bool after_h = false, before_s = false;
    for (std::size_t j = i; j-- > 0;)
      if (toks[j].kind != 'l') { after_h = toks[j].kind == 'h'; break; }
    for (std::size_t j = i + 1; j < toks.size(); ++j)
      if (toks[j].kind != 'l') { before_s = toks[j].kind == 's'; break; }
    if (after_h || before_s) toks[i].kind = 'M';
  }
  return toks;
}

std::string two(int v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d", v);
  return buf;
}

std::string render_date(double value, std::string_view code, bool date1904) {
  Civil c = from_serial(value, date1904);
  auto toks = date_tokens(code);
  bool twelve = false;
  for (auto& t : toks) twelve |= t.kind == 'a';
  std::string out;
  for (auto& t : toks) {
    switch (t.kind) {
      case 'l': out += t.text; break;
      case 'y': out += t.count <= 2 ? two(c.y % 100) : std::to_string(c.y); break;
      case 'm':
        if (t.count == 1) out += std::to_string(c.m);
        else if (t.count == 2) out += two(c.m);
        else if (t.count == 3) out += std::string(kMonths[c.m - 1]).substr(0, 3);
        else if (t.count == 4) out += kMonths[c.m - 1];
        else out += kMonths[c.m - 1][0];
        break;
      case 'd':
        if (t.count == 1) out += std::to_string(c.d);
        else if (t.count == 2) out += two(c.d);
        else if (t.count == 3) out += std::string(kDays[c.weekday]).substr(0, 3);
        else out += kDays[c.weekday];
        break;
      case 'h': {
        int h = c.hh;
        if (twelve) h = h % 12 == 0 ? 12 : h % 12;
        out += t.count >= 2 ? two(h) : std::to_string(h);
        break;
      }
      case 'M': out += t.count >= 2 ? two(c.mm) : std::to_string(c.mm); break;
      case 's': out += t.count >= 2 ? two(c.ss) : std::to_string(c.ss); break;
      case 'a':
        out += t.count == 5 ? (c.hh < 12 ? "AM" : "PM") : (c.hh < 12 ? "A" : "P");
        break;
    }
  }
  return out;
}

std::string render_number(double value, std::string_view code, bool negative_section) {
  std::string prefix, suffix, pattern;
  bool seen_placeholder = false, percent = false;
  std::string pending;  // literal text seen after the last placeholder so far
  for (std::size_t i = 0; i < code.size(); ++i) {
    char c = code[i];
    std::string lit;
    if (c == '"') {
      std::size_t end = code.find('"', i + 1);
      if (end == std::string_view::npos) end = code.size();
      lit = std::string(code.substr(i + 1, end - i - 1));
      i = end;
    } else if (c == '\\' && i + 1 < code.size()) {
      lit = std::string(1, code[++i]);
    } else if (c == '[') {
      std::size_t end = code.find(']', i);
      if (end == std::string_view::npos) end = code.size();
      std::string_view inner = code.substr(i + 1, end - i - 1);
      if (!inner.empty() && inner[0] == '$') lit = std::string(inner.substr(1, inner.find('-') == std::string_view::npos ? inner.npos : inner.find('-') - 1));
      i = end;
    } else if (c == '_') {
      lit = " ";
      ++i;
    } else if (c == '*') {
      ++i;
    } else if (c == '0' || c == '#' || c == '?' || ((c == '.' || c == ',') && seen_placeholder)) {
      if (!seen_placeholder) {
        prefix = pending;
        pending.clear();
      } else {
        pattern += pending;  // literal between placeholders ("00000 000000"): kept
        pending.clear();
      }
      seen_placeholder = true;
      pattern += c;
      continue;
    } else if (c == '%') {
      percent = true;
      lit = "%";
    } else {
      lit = std::string(1, c);
    }
    pending += lit;
  }
  if (!seen_placeholder) return prefix + pending;
  suffix = pending;
  if (percent) value *= 100;

  std::size_t dot = pattern.find('.');
  std::string int_pat = pattern.substr(0, dot);
  std::string frac_pat = dot == std::string::npos ? "" : pattern.substr(dot + 1);
  int decimals = 0;
  for (char c : frac_pat) decimals += (c == '0' || c == '#' || c == '?');
  bool thousands = int_pat.find(',') != std::string::npos;
  std::size_t placeholders = 0;
  for (char c : int_pat) placeholders += (c == '0' || c == '#' || c == '?');

  bool neg = value < 0 && !negative_section;
  char buf[400];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, std::fabs(value));
  std::string digits(buf);
  std::string frac;
  if (auto p = digits.find('.'); p != std::string::npos) {
    frac = digits.substr(p + 1);
    digits.resize(p);
  }
  std::size_t zeros = 0;
  for (char c : int_pat) zeros += c == '0';
  if (digits == "0" && zeros == 0) digits.clear();
  while (digits.size() < zeros) digits.insert(digits.begin(), '0');

  std::string int_out;
  if (thousands) {
    for (std::size_t i = 0; i < digits.size(); ++i) {
      if (i > 0 && (digits.size() - i) % 3 == 0) int_out += ',';
      int_out += digits[i];
    }
  } else if (placeholders > 0 && int_pat.find_first_not_of("0#?,") != std::string::npos &&
             digits.size() == placeholders) {
    // Literal text between digit placeholders (a phone number "00000 000000"): lay the
    // digits into the pattern.
    std::size_t k = 0;
    for (char c : int_pat) {
      if (c == '0' || c == '#' || c == '?') int_out += digits[k++];
      else if (c != ',') int_out += c;
    }
  } else {
    int_out = digits;
  }
  std::string out = prefix;
  if (neg) out.insert(0, "-");
  out += int_out;
  if (decimals > 0) out += "." + frac;
  out += suffix;
  return out;
}

}  // namespace

std::string builtin_number_format(unsigned id) {
  switch (id) {
    case 0: return "General";
    case 1: return "0";
    case 2: return "0.00";
    case 3: return "#,##0";
    case 4: return "#,##0.00";
    case 9: return "0%";
    case 10: return "0.00%";
    case 11: return "0.00E+00";
    case 12: case 13: return "General";  // fractions: General is close enough for text
    // Dates and times as Excel shows them with UK regional settings (14 follows the
    // locale's short date).
    case 14: return "dd/mm/yyyy";
    case 15: return "d-mmm-yy";
    case 16: return "d-mmm";
    case 17: return "mmm-yy";
    case 18: return "h:mm AM/PM";
    case 19: return "h:mm:ss AM/PM";
    case 20: return "h:mm";
    case 21: return "h:mm:ss";
    case 22: return "dd/mm/yyyy hh:mm";
    case 37: return "#,##0 ;(#,##0)";
    case 38: return "#,##0 ;(#,##0)";
    case 39: return "#,##0.00;(#,##0.00)";
    case 40: return "#,##0.00;(#,##0.00)";
    case 45: return "mm:ss";
    case 46: return "[h]:mm:ss";
    case 47: return "mm:ss.0";
    case 48: return "##0.0E+0";
    case 49: return "@";
    default: return "";
  }
}

bool is_date_format(std::string_view code) {
  auto secs = sections(code);
  std::string_view s = secs.front();
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"') {
      std::size_t end = s.find('"', i + 1);
      if (end == std::string_view::npos) return false;
      i = end;
    } else if (c == '\\' || c == '_' || c == '*') {
      ++i;
    } else if (c == '[') {
      std::size_t end = s.find(']', i);
      if (end == std::string_view::npos) return false;
      char first = static_cast<char>(std::tolower(static_cast<unsigned char>(s[i + 1])));
      if (first == 'h' || first == 'm' || first == 's') return true;  // elapsed time
      i = end;
    } else {
      char lc = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lc == 'd' || lc == 'm' || lc == 'y' || lc == 'h' || lc == 's') return true;
    }
  }
  return false;
}

std::string format_number(double value, std::string_view code, bool date1904) {
  if (!std::isfinite(value)) return general(value);
  if (code.empty() || code == "General" || code == "general" || code == "@") return general(value);
  auto secs = sections(code);
  std::string_view s = secs[0];
  bool negative_section = false;
  if (value < 0 && secs.size() >= 2 && !secs[1].empty()) {
    s = secs[1];
    negative_section = true;
  } else if (value == 0 && secs.size() >= 3 && !secs[2].empty()) {
    s = secs[2];
  }
  if (s == "General" || s == "general") return general(value);
  if (is_date_format(s)) {
    // Out of Excel's date range: Excel shows ####; the number itself is more useful.
    if (value < 0 || value > 2958465) return general(value);
    return render_date(value, s, date1904);
  }
  if (s.find_first_of("Ee") != std::string_view::npos && s.find_first_of("0#") != std::string_view::npos) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2E", value);
    return buf;
  }
  return render_number(negative_section ? std::fabs(value) : value, s, negative_section);
}

}  // namespace pm::attachments::detail
