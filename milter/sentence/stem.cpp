#include "sentence/stem.h"

#include <libstemmer.h>

#include <memory>
#include <stdexcept>

namespace pm {

namespace {

struct StemmerDeleter {
  void operator()(sb_stemmer* s) const { sb_stemmer_delete(s); }
};
using StemmerPtr = std::unique_ptr<sb_stemmer, StemmerDeleter>;

StemmerPtr make_stemmer() {
  StemmerPtr s(sb_stemmer_new("english", "UTF_8"));
  if (!s) throw std::runtime_error("cannot create the Snowball English stemmer");
  return s;
}

std::string stem_with(sb_stemmer* s, std::string_view w) {
  const sb_symbol* out =
      sb_stemmer_stem(s, reinterpret_cast<const sb_symbol*>(w.data()), static_cast<int>(w.size()));
  if (!out) throw std::runtime_error("stemmer out of memory");
  return std::string(reinterpret_cast<const char*>(out),
                     static_cast<std::size_t>(sb_stemmer_length(s)));
}

bool vowel(char c) {
  return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

}  // namespace

std::string english_stem(std::string_view word) {
  StemmerPtr s = make_stemmer();
  return stem_with(s.get(), word);
}

std::vector<std::string> inflections(std::string_view word) {
  std::vector<std::string> out{std::string(word)};
  if (word.size() < 3) return out;
  for (char c : word)
    if (c < 'a' || c > 'z') return out;
  StemmerPtr s = make_stemmer();
  const std::string w(word), root = stem_with(s.get(), w);
  std::vector<std::string> cand;
  for (const char* suf : {"s", "es", "ed", "d", "ing", "er", "ers", "ly", "y", "ish"})
    cand.push_back(w + suf);
  if (w.back() == 'e') {
    std::string b = w.substr(0, w.size() - 1);
    for (const char* suf : {"ing", "ed", "er", "ers", "y"}) cand.push_back(b + suf);
  }
  if (w.back() == 'y' && !vowel(w[w.size() - 2])) {
    std::string b = w.substr(0, w.size() - 1);
    for (const char* suf : {"ies", "ied", "ier", "iest", "ily"}) cand.push_back(b + suf);
  }
  // Consonant-vowel-consonant: the last consonant doubles (sneer no, mock no, slag: slagging).
  char l = w.back();
  if (!vowel(l) && l != 'w' && l != 'x' && l != 'y' && vowel(w[w.size() - 2]) &&
      !vowel(w[w.size() - 3]))
    for (const char* suf : {"ing", "ed", "er", "ers", "y"}) cand.push_back(w + l + suf);
  for (const auto& c : cand) {
    if (stem_with(s.get(), c) != root) continue;
    bool dup = false;
    for (const auto& o : out) dup |= o == c;
    if (!dup) out.push_back(c);
  }
  return out;
}

}  // namespace pm
