#include "match/normalize.h"

#include <unicode/normalizer2.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <array>
#include <mutex>
#include <unordered_map>

namespace pm {
namespace {

// Latin look-alikes from Cyrillic and Greek that staff (or a copy-paste) put inside words
// and URLs to get past a filter. Whole-script text in these alphabets is rare in a
// primary school's outgoing mail, so folding them unconditionally costs nothing.
// One table, one row per code point:
// clang-format off
char32_t fold_confusable(char32_t cp) {
  switch (cp) {
    case 0x0430: return 'a';  // Cyrillic а
    case 0x0435: return 'e';  // е
    case 0x043E: return 'o';  // о
    case 0x0440: return 'p';  // р
    case 0x0441: return 'c';  // с
    case 0x0443: return 'y';  // у
    case 0x0445: return 'x';  // х
    case 0x0456: return 'i';  // і
    case 0x0458: return 'j';  // ј
    case 0x0455: return 's';  // ѕ
    case 0x0501: return 'd';  // ԁ
    case 0x043A: return 'k';  // к
    case 0x043C: return 'm';  // м
    case 0x0442: return 't';  // т
    case 0x043D: return 'h';  // н (looks like H in caps)
    case 0x0432: return 'b';  // в
    case 0x03BF: return 'o';  // Greek ο
    case 0x03B1: return 'a';  // α
    case 0x03BD: return 'v';  // ν
    case 0x03C1: return 'p';  // ρ
    case 0x03B9: return 'i';  // ι
    case 0x03BA: return 'k';  // κ
    case 0x03C4: return 't';  // τ
    case 0x03C5: return 'u';  // υ
    case 0x2018: case 0x2019: case 0x201A: case 0x201B: case 0x02BC: case 0x2032:
    case 0xFF07: return '\'';
    case 0x201C: case 0x201D: case 0x201E: case 0x201F: case 0x2033: return '"';
    case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2014: case 0x2015:
    case 0x2212: case 0xFE63: case 0xFF0D: return '-';
    case 0x2024: return '.';
    case 0x2044: return '/';
    default: return 0;
  }
}
// clang-format on

enum class Space { none, blank, line };

// One table, one row per code point:
// clang-format off
Space space_kind(char32_t cp) {
  switch (cp) {
    case ' ': case '\t': case '\f': case '\v': case 0x00A0: case 0x1680: case 0x202F:
    case 0x205F: case 0x3000:
      return Space::blank;
    case '\n': case '\r': case 0x0085: case 0x2028: case 0x2029:
      return Space::line;
    default:
      return (cp >= 0x2000 && cp <= 0x200A) ? Space::blank : Space::none;
  }
}
// clang-format on

const icu::Normalizer2& nfkc_cf() {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = icu::Normalizer2::getNFKCCasefoldInstance(status);
  if (U_FAILURE(status) || n == nullptr) std::abort();  // ICU data missing: a broken install
  return *n;
}

// NFKC_Casefold of one code point, UTF-8. Memoised per thread: mail uses few distinct
// non-ASCII characters, and an ICU call costs ~100x a table lookup.
const std::string& fold_cp(char32_t cp) {
  thread_local std::unordered_map<char32_t, std::string> cache;
  auto it = cache.find(cp);
  if (it != cache.end()) return it->second;
  static const icu::Normalizer2& norm = nfkc_cf();
  UErrorCode status = U_ZERO_ERROR;
  icu::UnicodeString src(static_cast<UChar32>(cp));
  icu::UnicodeString dst = norm.normalize(src, status);
  std::string out;
  if (U_SUCCESS(status)) dst.toUTF8String(out);
  // Fold the result's own look-alikes too (e.g. a fullwidth Cyrillic letter).
  std::string refolded;
  for (std::size_t i = 0; i < out.size();) {
    UChar32 c;
    std::int32_t j = static_cast<std::int32_t>(i);
    U8_NEXT(out.data(), j, static_cast<std::int32_t>(out.size()), c);
    if (char32_t f = c < 0 ? 0 : fold_confusable(static_cast<char32_t>(c)))
      refolded.push_back(static_cast<char>(f));
    else
      refolded.append(out, i, static_cast<std::size_t>(j) - i);
    i = static_cast<std::size_t>(j);
  }
  if (cache.size() > 4096) cache.clear();
  return cache.emplace(cp, std::move(refolded)).first->second;
}

// Leetspeak inside a word ("sh@mbl3s", "w0rds", "f@t"): a digit or symbol that stands for
// a letter, between two letters of one word, is read as that letter, so every lexicon sees
// the word, not only the masked ones. One byte for one byte: offsets do not move. Words
// that carry a dot, slash, colon or @ (addresses, links, times) and the shapes of
// postcodes ("sw1a", "b1n") and identifiers (digits beside digits) are left as they are.
void unleet(std::string& t) {
  auto letter = [](char c) { return c >= 'a' && c <= 'z'; };
  auto stands = [](char c) -> char {
    constexpr std::string_view leet = "01345@$", letters = "oieasas";
    std::size_t k = leet.find(c);
    return k == std::string_view::npos ? 0 : letters[k];
  };
  std::size_t i = 0;
  while (i < t.size()) {
    // One word: a run of letters, digits and the symbols above.
    std::size_t b = i;
    while (i < t.size() &&
           (letter(t[i]) || (t[i] >= '0' && t[i] <= '9') || t[i] == '@' || t[i] == '$'))
      ++i;
    std::size_t e = i;
    if (e == b) {
      ++i;
      continue;
    }
    const bool linked =
        (e < t.size() && (t[e] == '.' || t[e] == '/' || t[e] == ':') && e + 1 < t.size() &&
         letter(t[e + 1])) ||
        (b > 0 && (t[b - 1] == '.' || t[b - 1] == '/' || t[b - 1] == ':' || t[b - 1] == '@'));
    std::string_view w(t.data() + b, e - b);
    std::size_t letters = 0, digits = 0;
    for (char c : w) letters += letter(c), digits += (c >= '0' && c <= '9');
    // Postcode outward codes: one or two letters, a digit, at most one more character.
    const bool postcode = w.size() <= 4 && w.size() >= 2 && letter(w[0]) &&
                          ((w[1] >= '0' && w[1] <= '9') ||
                           (w.size() >= 3 && letter(w[1]) && w[2] >= '0' && w[2] <= '9'));
    if (linked || postcode || letters < 2 || digits > letters) continue;
    for (std::size_t k = b + 1; k + 1 < e; ++k)
      if (char l = stands(t[k]); l && letter(t[k - 1]) && (letter(t[k + 1]) || stands(t[k + 1])))
        t[k] = l;
  }
}

}  // namespace

std::pair<std::size_t, std::size_t> NormText::source_range(std::size_t start, std::size_t end,
                                                           std::string_view source) const {
  start = std::min(start, text.size());
  end = std::min(std::max(end, start), text.size());
  std::size_t s = to_orig[start];
  std::size_t e = end > start ? to_orig[end - 1] : s;
  // Extend the end over the whole source character that produced the last byte.
  if (end > start) {
    e += 1;
    while (e < source.size() && (static_cast<unsigned char>(source[e]) & 0xC0) == 0x80) ++e;
  }
  return {s, std::min(e, source.size())};
}

std::size_t NormText::from_source(std::size_t orig) const {
  auto it = std::lower_bound(to_orig.begin(), to_orig.end() - 1, orig);
  return static_cast<std::size_t>(it - to_orig.begin());
}

NormText normalize(std::string_view s) {
  NormText out;
  out.text.reserve(s.size());
  out.to_orig.reserve(s.size() + 1);
  Space pending = Space::none;
  int pending_lines = 0;
  std::uint32_t pending_at = 0;
  auto flush_space = [&]() {
    if (pending == Space::none) return;
    if (!out.text.empty()) {
      if (pending == Space::line) {
        out.text.push_back('\n');
        out.to_orig.push_back(pending_at);
        if (pending_lines >= 2) {
          out.text.push_back('\n');
          out.to_orig.push_back(pending_at);
        }
      } else {
        out.text.push_back(' ');
        out.to_orig.push_back(pending_at);
      }
    }
    pending = Space::none;
    pending_lines = 0;
  };
  auto note_space = [&](Space k, std::uint32_t at, bool is_lf) {
    if (pending == Space::none) pending_at = at;
    if (k == Space::line) {
      pending = Space::line;
      if (is_lf) ++pending_lines;
    } else if (pending == Space::none) {
      pending = Space::blank;
    }
  };

  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    unsigned char b = static_cast<unsigned char>(s[i]);
    std::uint32_t at = static_cast<std::uint32_t>(i);
    if (b > 0x20 && b < 0x7F) {
      // A run of printable ASCII - most of any school's mail - goes across in one step.
      flush_space();
      std::size_t j = i;
      while (j<n&& static_cast<unsigned char>(s[j])> 0x20 &&
             static_cast<unsigned char>(s[j]) < 0x7F)
        ++j;
      std::size_t old = out.text.size();
      out.text.resize(old + (j - i));
      out.to_orig.resize(old + (j - i));
      char* t = out.text.data() + old;
      std::uint32_t* m = out.to_orig.data() + old;
      for (std::size_t k = i; k < j; ++k) {
        char c = s[k];
        *t++ = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
        *m++ = static_cast<std::uint32_t>(k);
      }
      i = j;
      continue;
    }
    if (b < 0x80) {
      ++i;
      Space k = space_kind(b);
      if (k != Space::none) {
        // CRLF counts as one line break; a lone CR too.
        note_space(k, at, b == '\n' || (b == '\r' && (i >= n || s[i] != '\n')));
        continue;
      }
      if (b < 0x20 || b == 0x7F) continue;  // other control characters carry no text
      flush_space();
      out.text.push_back((b >= 'A' && b <= 'Z') ? static_cast<char>(b + 32) : static_cast<char>(b));
      out.to_orig.push_back(at);
      continue;
    }
    UChar32 cp;
    std::int32_t j = static_cast<std::int32_t>(i);
    U8_NEXT(s.data(), j, static_cast<std::int32_t>(n), cp);
    i = static_cast<std::size_t>(j);
    if (cp < 0) cp = 0xFFFD;
    Space k = space_kind(static_cast<char32_t>(cp));
    if (k != Space::none) {
      note_space(k, at, k == Space::line);
      continue;
    }
    if (char32_t f = fold_confusable(static_cast<char32_t>(cp))) {
      flush_space();
      out.text.push_back(static_cast<char>(f));
      out.to_orig.push_back(at);
      continue;
    }
    const std::string& folded = fold_cp(static_cast<char32_t>(cp));
    if (folded.empty()) continue;  // zero-width, soft hyphen, other ignorables
    flush_space();
    for (char c : folded) {
      out.text.push_back(c);
      out.to_orig.push_back(at);
    }
  }
  out.to_orig.push_back(static_cast<std::uint32_t>(n));
  unleet(out.text);
  return out;
}

NormText compact_digits(const NormText& norm) {
  NormText out;
  const std::string& t = norm.text;
  // Nothing to compact (no separator between two digits): the view is the text itself.
  bool any = false;
  for (std::size_t i = 1; i + 1 < t.size() && !any; ++i)
    any = (t[i] == ' ' || t[i] == '-') && t[i - 1] >= '0' && t[i - 1] <= '9';
  if (!any) {
    out.text = t;
    out.to_orig.resize(t.size() + 1);
    for (std::size_t i = 0; i <= t.size(); ++i) out.to_orig[i] = static_cast<std::uint32_t>(i);
    return out;
  }
  out.text.reserve(t.size());
  out.to_orig.reserve(t.size() + 1);
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  for (std::size_t i = 0; i < t.size(); ++i) {
    char c = t[i];
    if ((c == ' ' || c == '-') && !out.text.empty() && is_digit(out.text.back())) {
      // Skip a short run of separators that sits between two digits.
      std::size_t j = i;
      while (j < t.size() && j - i < 3 && (t[j] == ' ' || t[j] == '-')) ++j;
      if (j < t.size() && is_digit(t[j])) {
        i = j - 1;
        continue;
      }
    }
    out.text.push_back(c);
    out.to_orig.push_back(static_cast<std::uint32_t>(i));
  }
  out.to_orig.push_back(static_cast<std::uint32_t>(t.size()));
  return out;
}

}  // namespace pm
