// Charset conversion to UTF-8. ASCII and UTF-8 (the bulk of school mail) never reach ICU;
// windows-1252 (the fallback for undeclared 8-bit text) is a table here; everything else
// goes through one ICU converter per call, straight to UTF-8 (ucnv_toAlgorithmic).
#include "decode/text/charset.h"

#include <unicode/ucnv.h>

#include <cstdint>
#include <cstring>
#include <memory>

namespace pm::text {
namespace {

// windows-1252 0x80..0x9F as WHATWG maps them (the five holes become the C1 controls).
constexpr char16_t kCp1252High[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

std::string cp1252_to_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 4);
  for (unsigned char c : bytes) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0xA0) {
      append_utf8(out, kCp1252High[c - 0x80]);
    } else {
      append_utf8(out, c);
    }
  }
  return out;
}

std::size_t ascii_prefix(std::string_view s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  // Eight bytes at a time: the common case is a long run of ASCII.
  while (i + 8 <= n) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if (w & 0x8080808080808080ULL) break;
    i += 8;
  }
  while (i < n && static_cast<unsigned char>(s[i]) < 0x80) ++i;
  return i;
}

// Length of the valid UTF-8 sequence at s[i] (non-ASCII lead), or 0 if invalid.
std::size_t utf8_seq_len(std::string_view s, std::size_t i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  unsigned char c = p[i];
  auto cont = [&](std::size_t k) { return i + k < n && (p[i + k] & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && p[i + 1] < 0xA0) return 0;   // overlong
    if (c == 0xED && p[i + 1] >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && p[i + 1] < 0x90) return 0;  // overlong
    if (c == 0xF4 && p[i + 1] >= 0x90) return 0;  // > U+10FFFF
    return 4;
  }
  return 0;
}

// Declared UTF-8 with broken bytes: keep the valid sequences, U+FFFD for each bad byte.
std::string repair_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t a = ascii_prefix(s.substr(i));
    out.append(s.data() + i, a);
    i += a;
    if (i >= s.size()) break;
    std::size_t len = utf8_seq_len(s, i);
    if (len) {
      out.append(s.data() + i, len);
      i += len;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  return out;
}

std::string lower_name(std::string_view charset) {
  // Trim blanks and quotes a sloppy header may leave; lower-case ASCII.
  while (!charset.empty() && (charset.front() == ' ' || charset.front() == '"' ||
                              charset.front() == '\'' || charset.front() == '\t'))
    charset.remove_prefix(1);
  while (!charset.empty() && (charset.back() == ' ' || charset.back() == '"' ||
                              charset.back() == '\'' || charset.back() == '\t'))
    charset.remove_suffix(1);
  std::string name(charset);
  for (char& c : name)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return name;
}

bool is_utf8_name(const std::string& n) { return n == "utf-8" || n == "utf8"; }

bool is_ascii_name(const std::string& n) {
  return n == "us-ascii" || n == "ascii" || n == "ansi_x3.4-1968" || n == "us";
}

// Names mail clients mean as windows-1252 (WHATWG: latin1 labels are windows-1252).
bool is_cp1252_name(const std::string& n) {
  return n == "windows-1252" || n == "cp1252" || n == "iso-8859-1" || n == "iso8859-1" ||
         n == "iso_8859-1" || n == "latin1" || n == "l1" || n == "x-cp1252" ||
         n == "iso-ir-100" || n == "cp819" || n == "ibm819";
}

// Charsets in which ASCII bytes do not stand for ASCII characters (wide or stateful
// encodings): the ASCII fast path must not apply to them.
bool ascii_unsafe(const std::string& n) {
  return n.rfind("utf-16", 0) == 0 || n.rfind("utf-32", 0) == 0 || n.rfind("utf-7", 0) == 0 ||
         n.rfind("ucs", 0) == 0 || n.rfind("unicode", 0) == 0 || n.rfind("hz", 0) == 0 ||
         n.rfind("ibm", 0) == 0 || n.rfind("cp0", 0) == 0 || n.rfind("ebcdic", 0) == 0;
}

// A MIME charset name is a short token; anything else (paths, option syntax) is refused
// before ICU sees it.
bool plausible_name(const std::string& n) {
  if (n.empty() || n.size() > 40) return false;
  for (char c : n) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

struct ConverterCloser {
  void operator()(UConverter* c) const { ucnv_close(c); }
};
using ConverterPtr = std::unique_ptr<UConverter, ConverterCloser>;

// Converts with ICU; false if the converter cannot be opened.
bool icu_to_utf8(std::string_view bytes, const char* name, std::string& out) {
  UErrorCode err = U_ZERO_ERROR;
  ConverterPtr cnv(ucnv_open(name, &err));
  if (U_FAILURE(err) || !cnv) return false;
  // One input byte gives at most 3 UTF-8 bytes (U+FFFD or a BMP character); retry on the
  // rare converter that maps one byte to several characters.
  std::size_t cap = bytes.size() * 3 + 16;
  for (int attempt = 0; attempt < 3; ++attempt) {
    out.resize(cap);
    err = U_ZERO_ERROR;
    ucnv_resetToUnicode(cnv.get());
    int32_t len = ucnv_toAlgorithmic(UCNV_UTF8, cnv.get(), out.data(), static_cast<int32_t>(cap),
                                     bytes.data(), static_cast<int32_t>(bytes.size()), &err);
    if (err == U_BUFFER_OVERFLOW_ERROR) {
      cap = static_cast<std::size_t>(len) + 16;
      continue;
    }
    if (U_FAILURE(err)) return false;
    out.resize(static_cast<std::size_t>(len));
    return true;
  }
  return false;
}

}  // namespace

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}


bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    i += ascii_prefix(s.substr(i));
    if (i >= s.size()) break;
    std::size_t len = utf8_seq_len(s, i);
    if (!len) return false;
    i += len;
  }
  return true;
}

std::string to_utf8(std::string_view bytes, std::string_view charset) {
  if (bytes.size() > static_cast<std::size_t>(INT32_MAX / 4)) bytes = bytes.substr(0, INT32_MAX / 4);
  const std::string name = lower_name(charset);
  if (!ascii_unsafe(name) && ascii_prefix(bytes) == bytes.size()) return std::string(bytes);
  if (is_utf8_name(name)) return is_valid_utf8(bytes) ? std::string(bytes) : repair_utf8(bytes);
  if (is_cp1252_name(name)) return cp1252_to_utf8(bytes);
  if (!is_ascii_name(name) && plausible_name(name) && name != "unknown-8bit" &&
      name != "x-unknown" && name != "default") {
    std::string out;
    if (icu_to_utf8(bytes, name.c_str(), out)) return out;
  }
  // Undeclared, us-ascii with 8-bit bytes, or unknown: what mail clients do.
  if (is_valid_utf8(bytes)) return std::string(bytes);
  return cp1252_to_utf8(bytes);
}

std::string detect_to_utf8(std::string_view bytes) {
  if (bytes.size() >= 3 && bytes.substr(0, 3) == "\xEF\xBB\xBF") {
    bytes.remove_prefix(3);
    return is_valid_utf8(bytes) ? std::string(bytes) : repair_utf8(bytes);
  }
  if (bytes.size() >= 2 && bytes.substr(0, 2) == "\xFF\xFE") {
    std::string out;
    if (icu_to_utf8(bytes.substr(2), "UTF-16LE", out)) return out;
  }
  if (bytes.size() >= 2 && bytes.substr(0, 2) == "\xFE\xFF") {
    std::string out;
    if (icu_to_utf8(bytes.substr(2), "UTF-16BE", out)) return out;
  }
  return to_utf8(bytes, "");
}

}  // namespace pm::text
