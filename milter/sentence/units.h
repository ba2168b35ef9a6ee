// Units of text the sentence layer reads: sentences, table rows and list items (short
// lines), paragraphs. Offsets are into normalised text (match/normalize.h).
//
// Hard-wrapped prose (plain-text mail breaks lines near 72 columns) is not cut at its line
// ends; short lines (lists, tables, addresses, signatures), bullets and lines that end a
// sentence are. A tab or '|' ends a table cell's unit. Pure; thread-safe.
#pragma once

#include <cstddef>
#include <string_view>
#include <utility>
#include <vector>

namespace pm {

using TextRange = std::pair<std::size_t, std::size_t>;  // half-open

struct Breaks {
  // Offsets where a new sentence / line / paragraph starts (sorted, no 0).
  std::vector<std::size_t> sentence, line, paragraph;
};

Breaks compute_breaks(std::string_view text);

// The unit of `breaks` that holds `span` (from the break at or before its start to the
// break after its last byte); `n` is the text's size.
TextRange unit_of(const std::vector<std::size_t>& breaks, TextRange span, std::size_t n);

}  // namespace pm
