// The person-name detector: context for rules that need a *named* person ("a named pupil
// and a medical detail", "an insult aimed at a person").
//
// Works without a roster, from the shape of English text: a title and a capitalised word
// ("Mrs Okafor", "Mr. T. Bryant"); a relation or role noun and a capitalised word ("pupil
// Kayden", "her son Alfie", "my daughter Mia"); a known given name, capitalised (or in an
// all-caps line), alone or followed by a surname ("Ellie", "Ellie Brandt"); given names that
// are also common words ("Grace", "Will") only with a surname or a title/role before them;
// the first words of a list line before its separator ("Juniper Okafor - FSM"); a
// capitalised word doing what people do ("..., but Anselm's been off", "Bethan Rowe said");
// two capitalised words inside a sentence that are not a place or an organisation
// ("you're getting Barnaby Achterberg in April", not "the Roman Baths").
// A roster exported from the MIS (optional) adds its names. Words listed as never names
// (months, days, school vocabulary) never start a name.
//
// Runs on the segment's original text (capitals matter); spans are byte offsets into it.
// Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace pm {

struct NameLexicon {
  std::unordered_set<std::string> given;      // lower case, count alone
  std::unordered_set<std::string> ambiguous;  // lower case, need a surname/title/role
  std::unordered_set<std::string> not_names;  // lower case
  // Words that make a capitalised pair a place or an organisation ("Roman Baths",
  // "Forest School"): not-names.txt entries written "~word".
  std::unordered_set<std::string> place_words;
  std::unordered_set<std::string> roster;     // full names, lower case, "first last"

  // given-names.txt entries ending in '?' are ambiguous.
  static NameLexicon build(const std::vector<std::string>& given_names,
                           const std::vector<std::string>& not_names,
                           const std::vector<std::string>& roster_full_names);
};

struct TextSpan {
  std::size_t start = 0, end = 0;
};

std::vector<TextSpan> find_person_names(std::string_view text, const NameLexicon& lex);

}  // namespace pm
