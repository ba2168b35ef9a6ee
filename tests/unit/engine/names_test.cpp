#include "match/names.h"

#include <gtest/gtest.h>

namespace pm {
namespace {

NameLexicon lex(std::vector<std::string> roster = {}) {
  // "~word": a word that makes a capitalised pair a place or an organisation.
  return NameLexicon::build({"ellie", "jack", "amelia", "grace?", "will?"},
                            {"monday", "year", "dear", "~policy", "~school", "~baths"}, roster);
}

std::vector<std::string> names(std::string_view t, const NameLexicon& l = lex()) {
  std::vector<std::string> out;
  for (auto s : find_person_names(t, l)) out.emplace_back(t.substr(s.start, s.end - s.start));
  return out;
}

TEST(Names, TitlesRolesAndGivenNames) {
  using V = std::vector<std::string>;
  EXPECT_EQ(names("Mrs Okafor rang about her son Tobi."), (V{"Mrs Okafor", "Tobi"}));
  EXPECT_EQ(names("Ellie has asthma"), (V{"Ellie"}));
  EXPECT_EQ(names("ELLIE BRANDT HAS ASTHMA"), (V{"ELLIE"}));
  EXPECT_EQ(names("Jack's inhaler is in the office"), (V{"Jack"}));
  EXPECT_EQ(names("Smith, T. Pellow and G. Lloyd-Bryant"), (V{"T. Pellow", "G. Lloyd-Bryant"}));
}

TEST(Names, AmbiguousNamesNeedASurname) {
  using V = std::vector<std::string>;
  EXPECT_TRUE(names("Grace before lunch, then Will you help?").empty());
  EXPECT_EQ(names("Grace Hughes needs her inhaler"), (V{"Grace Hughes"}));
}

TEST(Names, NotEveryCapitalIsAPerson) {
  EXPECT_TRUE(names("Our Safeguarding and Child Protection Policy is on the website").empty());
  EXPECT_TRUE(names("St Anne's pupils raised money").empty());  // a saint, not Anne
  EXPECT_TRUE(names("Dear Parents, Year 5 swimming starts Monday").empty());
}

TEST(Names, ListLinesAndPersonGrammarFindUnknownNames) {
  using V = std::vector<std::string>;
  EXPECT_EQ(names("Group:\nJuniper Okafor - pupil premium\nTiberius Ogunleye, LAC"),
            (V{"Juniper Okafor", "Tiberius Ogunleye"}));
  EXPECT_EQ(names("Don't repeat this, but Anselm's now been off six weeks"), (V{"Anselm"}));
  EXPECT_EQ(names("you're getting Barnaby Achterberg in April"), (V{"Barnaby Achterberg"}));
  EXPECT_TRUE(names("we are visiting the Roman Baths in December").empty());
}

TEST(Names, PersonVerbsAndRosterFindUnknownNames) {
  using V = std::vector<std::string>;
  EXPECT_EQ(names("Bethan Rowe said she was tired"), (V{"Bethan Rowe"}));
  EXPECT_TRUE(names("Local Offer can help").empty());
  EXPECT_EQ(names("told Kwabena Asante about it", lex({"kwabena asante"})), (V{"Kwabena Asante"}));
}

}  // namespace
}  // namespace pm
