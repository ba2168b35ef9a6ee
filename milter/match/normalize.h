// The normalise pass: one canonical form of a segment's text for matching.
//
// NFKC + case fold (ICU's NFKC_Casefold, which also drops zero-width characters, soft
// hyphens and other default-ignorables), Latin look-alike letters from Cyrillic/Greek
// folded to Latin, typographic quotes and dashes to ASCII, white space folded (a run with
// two or more line breaks -> "\n\n", one -> "\n", else " "), leetspeak inside a word read
// as letters ("sh@mbl3s" -> "shambles"; not in addresses, links, postcodes, identifiers).
// Rules are written against this form: lower case, ASCII punctuation.
//
// Every byte of the output maps back to a byte offset of the input, so a match in the
// normalised text becomes evidence in the text a person reads. compact_digits() derives a
// second view for identifier rules in which spaces and dashes between digits are removed
// ("943 476-5919" -> "9434765919"); its to_orig maps into the *normalised* text.
// Thread safety: pure functions; ICU's normaliser instance is shared and immutable.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pm {

struct NormText {
  std::string text;
  // to_orig[i] = offset in the source of the character that produced text[i];
  // to_orig[text.size()] = source size (so a half-open range maps cleanly).
  std::vector<std::uint32_t> to_orig;

  // Maps a half-open range of `text` to a half-open range of the source.
  std::pair<std::size_t, std::size_t> source_range(std::size_t start, std::size_t end,
                                                   std::string_view source) const;
  // Inverse: the first normalised offset whose source offset is >= `orig`.
  std::size_t from_source(std::size_t orig) const;
};

NormText normalize(std::string_view utf8);
NormText compact_digits(const NormText& norm);

}  // namespace pm
