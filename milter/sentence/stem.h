// Inflections of lexicon words, generated with the Snowball English stemmer (libstemmer)
// instead of being spelled out in rules/lexicons.toml: "sneer" -> sneer, sneers, sneered,
// sneering, sneerer... A candidate form is kept only when the stemmer maps it to the same
// stem as the word itself, so "bat" never grows "bating" into "bate".
//
// Used when rules are loaded (never per message). Errors: throws std::runtime_error when
// the stemmer cannot be created. Thread safety: each call owns its stemmer.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pm {

// The Snowball (Porter2) English stem of one lower-case word.
std::string english_stem(std::string_view word);

// `word` and its inflected forms (plural, 3rd person, -ed, -ing, -er/-ers, -ly), lower case,
// `word` first. Words that are not plain lower-case letters are returned alone.
std::vector<std::string> inflections(std::string_view word);

}  // namespace pm
