// The sentence layer on known sentences: for each stance, the rule that reads it fires and
// --explain's target and stance are the ones pinned here; negation, reported speech and
// irony change the stance; a group named in one sentence is what "they" means in the next.
#include <gtest/gtest.h>

#include <algorithm>

#include "engine/engine.h"
#include "sentence/reading.h"
#include "sentence/stem.h"

namespace pm {
namespace {

const Engine& engine() {
  static auto e = Engine::load(std::filesystem::path(PM_SOURCE_DIR) / "conf/policy-milter.toml");
  return *e;
}

// The first finding of `rule` for `sentence` sent to a parent's webmail (or nullptr).
Verdict scan(const std::string& sentence) {
  std::string m =
      "From: Jo Marsh <j.marsh@stannes.example>\r\nTo: someone@gmail.com\r\nSubject: note\r\n"
      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
      sentence + "\r\n";
  return engine().scan(m, nullptr);
}

const Finding* finding(const Verdict& v, const std::string& rule) {
  for (const auto& f : v.findings)
    if (f.rule == rule) return &f;
  return nullptr;
}

// Does `rule` fire on `sentence`?
bool fires(const std::string& sentence, const std::string& rule) {
  return finding(scan(sentence), rule) != nullptr;
}

struct Case {
  const char* sentence;
  const char* rule;
  const char* target;  // prefix of Finding::target
  const char* stance;  // prefix of Finding::stance
};

class Stances : public ::testing::TestWithParam<Case> {};

TEST_P(Stances, TargetAndStanceArePinned) {
  const Case& c = GetParam();
  Verdict v = scan(c.sentence);
  const Finding* f = finding(v, c.rule);
  ASSERT_NE(f, nullptr) << c.sentence;
  EXPECT_EQ(f->target.rfind(c.target, 0), 0u) << f->target << " / " << f->stance;
  EXPECT_EQ(f->stance.rfind(c.stance, 0), 0u) << f->stance;
}

INSTANTIATE_TEST_SUITE_P(
    Sentences, Stances,
    ::testing::Values(
        Case{"That dad is a total muppet.", "abusive.derogatory-at-target", "parent \"that dad\"",
             "derogatory \"muppet\""},
        Case{"Honestly his mum can't even spell her own son's name.", "abusive.demeaning",
             "named \"his mum\"", "demeaning \"can't even spell\""},
        Case{"The traveller families are back on the field. You know what they're like.",
             "abusive.group-generalising", "group/race \"traveller",
             "generalising \"you know what they're like\""},
        Case{"I'd bin her application, far too old for a classroom role.",
             "abusive.discriminatory-decision", "group/age", "discriminatory"},
        Case{"Keep it up, Jayden, and you'll see what happens to you.", "abusive.threat-hinted", "",
             "threatening"},
        Case{"They are cutting the TAs again while the head gets a new office.",
             "disrepute.criticism-frame", "school", "criticism \"cutting the tas\""},
        Case{"Another masterstroke from our glorious leadership team.", "disrepute.mock-praise",
             "school", "criticism"},
        // Whom the stance is about: him (before it), not the school (after it).
        Case{"I doubt he could find the school on a map.", "abusive.demeaning", "person \"he\"",
             "demeaning \"i doubt he could find\""},
        // An ironic afterthought is about the leader the sentence before named.
        Case{"The head sent another email about wellbeing at 11pm. Wellbeing, apparently.",
             "disrepute.mock-praise", "staff", "criticism"}));

// "The governors are a bunch of clowns" is about the governing body (disrepute), not a
// person's abuse: a referent ("a bunch of") is the stance's own words, not its subject.
TEST(SentenceLayer, StanceAboutTheSchoolIsNotAbuseOfAPerson) {
  Verdict v = scan("Honestly the governors are a bunch of clowns.");
  EXPECT_EQ(finding(v, "abusive.derogatory-at-target"), nullptr);
  EXPECT_NE(finding(v, "disrepute.derogatory-at-school"), nullptr);
}

// A copula carries the stance to the subject across a parenthesis; the subject is the
// leader, so it is disparagement of the school's people as well as abuse.
TEST(SentenceLayer, CopulaCarriesTheStanceToItsSubjectAcrossAParenthesis) {
  Verdict v = scan("The head, on the other hand, is a hysterical old bag.");
  const Finding* f = finding(v, "disrepute.insult-at-staff");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->target.rfind("staff \"the head\"", 0), 0u) << f->target;
  // ...but not to a target the parenthesis itself names.
  EXPECT_EQ(finding(scan("The head, unlike that dad, is lovely; he is a total muppet."),
                    "disrepute.insult-at-staff"),
            nullptr);
}

// Words in single quotation marks are mentioned (a lesson on name-calling), not said; an
// apostrophe inside a word opens no quotation.
TEST(SentenceLayer, SingleQuotedWordsAreMentionedNotSaid) {
  Verdict lesson =
      scan("The children wrote the names they hear ('loser', 'nobody likes you') on paper bricks.");
  EXPECT_EQ(finding(lesson, "abusive.demeaning"), nullptr);
  EXPECT_EQ(finding(lesson, "abusive.insult-at-person"), nullptr);
  EXPECT_TRUE(fires("Nobody likes you, Tyler, and it's no wonder.", "abusive.demeaning"));
  EXPECT_TRUE(fires("She's an idiot isn't she.", "abusive.insult-at-person"));
}

// "She" after a sentence about the school's people is one of them; after a sentence about a
// named child she stays the child's.
TEST(SentenceLayer, APronounAfterTheSchoolsPeopleIsOneOfThem) {
  const Finding* f = finding(scan("The governors approved the budget. The woman couldn't read a "
                                  "spreadsheet if it bit her."),
                             "disrepute.demeaning-school");
  EXPECT_NE(f, nullptr);
  Verdict child = scan("Alfie Smith came in late again. He can't even spell his own name.");
  EXPECT_EQ(finding(child, "disrepute.demeaning-school"), nullptr);
  EXPECT_NE(finding(child, "abusive.demeaning"), nullptr);
}

// A disparaging word is criticism only as the sender's own: negated or quoted it is not.
TEST(SentenceLayer, DisparagementNegatedOrQuotedIsNotCriticism) {
  EXPECT_TRUE(fires("Honestly the head is completely incompetent.", "disrepute.criticism"));
  EXPECT_FALSE(
      fires("The head is not incompetent, whatever the paper says.", "disrepute.criticism"));
  EXPECT_FALSE(fires("Mrs Hollis, you couldn't even spell \"incompetent\" on the group.",
                     "disrepute.criticism"));
}

// "the school gate" is a place (the lexicon's not_before), not the school as a body.
TEST(SentenceLayer, APlaceOfTheSchoolIsNotTheSchool) {
  EXPECT_FALSE(fires("I've accepted it - just keep it quiet at the school gate!",
                     "disrepute.criticism-frame"));
  EXPECT_TRUE(
      fires("The school kept it quiet from parents for months.", "disrepute.criticism-frame"));
}

// Stances that cancel a finding: negated, reported, praise.
TEST(SentenceLayer, NegatedReportedAndSelfAimedSentencesDoNotFire) {
  EXPECT_EQ(
      finding(scan("He is not lazy at all, he tries really hard."), "abusive.derogatory-at-target"),
      nullptr);
  EXPECT_EQ(finding(scan("Tom said Ben was a muppet, so we talked about kind words."),
                    "abusive.derogatory-at-target"),
            nullptr);
  EXPECT_EQ(
      finding(scan("What a muppet I am, I forgot the forms!"), "abusive.derogatory-at-target"),
      nullptr);
}

// The reading itself, on cues placed by hand: each stance kind survives or changes as
// documented in sentence/reading.h.
TEST(SentenceLayer, ReadingAppliesNegationReportingAndIrony) {
  const std::string t = "she is not lazy. he said she was lazy. what a brilliant plan from slt.";
  auto at = [&](const char* w, std::size_t from = 0) {
    std::size_t p = t.find(w, from);
    return TextRange{p, p + std::string_view(w).size()};
  };
  auto stance = [](TextRange r, Stance s) { return Cue{r, false, static_cast<int>(s), ""}; };
  auto target = [](TextRange r, Target k) { return Cue{r, true, static_cast<int>(k), ""}; };
  std::vector<Cue> cues = {target(at("she"), Target::person), stance(at("not"), Stance::negation),
                           stance(at("lazy"), Stance::derogatory)};
  auto by_end = [](std::vector<Cue>& v) {
    std::sort(v.begin(), v.end(),
              [](const Cue& x, const Cue& y) { return x.span.second < y.span.second; });
  };
  by_end(cues);
  Reading r1 = read_unit(t, {0, 16}, {0, 0}, cues);
  EXPECT_TRUE(r1.has_stance(Stance::negation));
  EXPECT_FALSE(r1.has_stance(Stance::derogatory));
  EXPECT_TRUE(r1.has_target(Target::person));

  std::size_t s2 = t.find("he said");
  std::vector<Cue> cues2 = {stance(at("he said", s2), Stance::reported),
                            target(at("she", s2), Target::person),
                            stance(at("lazy", s2), Stance::derogatory)};
  by_end(cues2);
  Reading r2 = read_unit(t, {s2, s2 + 23}, {0, 0}, cues2);
  EXPECT_TRUE(r2.has_stance(Stance::reported));
  EXPECT_FALSE(r2.has_stance(Stance::derogatory));

  std::size_t s3 = t.find("what a");
  std::vector<Cue> cues3 = {stance(at("what a brilliant", s3), Stance::praise),
                            stance(at("brilliant plan"), Stance::irony),
                            target(at("slt"), Target::school)};
  by_end(cues3);
  Reading r3 = read_unit(t, {s3, t.size()}, {0, 0}, cues3);
  EXPECT_TRUE(r3.has_stance(Stance::criticism));  // mock praise
  EXPECT_FALSE(r3.has_stance(Stance::praise));
}

TEST(SentenceLayer, EndorsementKeepsReportedWordsTheSendersOwn) {
  const std::string t = "she called him a muppet and she's right";
  std::vector<Cue> cues = {{{0, 10}, false, static_cast<int>(Stance::reported), ""},
                           {{11, 14}, true, static_cast<int>(Target::person), ""},
                           {{17, 23}, false, static_cast<int>(Stance::derogatory), ""},
                           {{24, t.size()}, false, static_cast<int>(Stance::endorsement), ""}};
  Reading r = read_unit(t, {0, t.size()}, {0, 0}, cues);
  EXPECT_TRUE(r.has_stance(Stance::derogatory));
}

TEST(SentenceLayer, StemmerInflectsLexiconWords) {
  auto f = inflections("muppet");
  EXPECT_NE(std::find(f.begin(), f.end(), "muppets"), f.end());
  auto g = inflections("sneer");
  EXPECT_NE(std::find(g.begin(), g.end(), "sneering"), g.end());
  EXPECT_NE(std::find(g.begin(), g.end(), "sneered"), g.end());
  // Every form generated maps to the word's own stem.
  for (const char* w : {"muppet", "sneer", "scrounge", "bully", "mock"})
    for (const auto& form : inflections(w)) EXPECT_EQ(english_stem(form), english_stem(w)) << form;
  EXPECT_EQ(inflections("i'm").size(), 1u);  // not plain letters: left as written
}

}  // namespace
}  // namespace pm
