// Scans each labelled corpus with the real engine and configuration and compares the
// categories (and the probable-misaddress note) with labels.tsv. Prints a per-category
// precision/recall table. Message text never appears in the output: file names only.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "engine/engine.h"
#include "util/strings.h"

namespace {

const char* const kCategories[] = {"abusive",       "confidential",   "disrepute",
                                   "personal-link", "social-contact", "unscannable"};

struct Result {
  int messages = 0, exact = 0;
  std::map<std::string, int> tp, fp, fn;
  std::vector<std::string> mismatches;
  double macro_f1 = 0;
};

std::set<std::string> parse_list(const std::string& s) {
  std::set<std::string> out;
  if (s == "-" || s.empty()) return out;
  for (auto p : pm::split(s, ',')) out.insert(std::string(pm::trim(p)));
  return out;
}

const pm::Engine& engine() {
  static std::shared_ptr<const pm::Engine> e =
      pm::Engine::load(std::filesystem::path(PM_SOURCE_DIR) / "conf/policy-milter.toml");
  return *e;
}

Result run(const std::string& set) {
  Result r;
  std::filesystem::path dir = std::filesystem::path(PM_SOURCE_DIR) / "tests/corpus" / set;
  std::ifstream labels(dir / "labels.tsv");
  EXPECT_TRUE(labels) << "missing " << (dir / "labels.tsv");
  std::string line;
  std::getline(labels, line);  // header
  while (std::getline(labels, line)) {
    if (line.empty()) continue;
    auto cols = pm::split(line, '\t');
    if (cols.size() < 3) continue;
    std::string file(cols[0]);
    auto want = parse_list(std::string(cols[1]));
    auto want_notes = parse_list(std::string(cols[2]));
    std::string raw = pm::read_file((dir / file).string());
    pm::Verdict v = engine().scan(raw, nullptr);
    std::set<std::string> got(v.categories.begin(), v.categories.end());
    std::set<std::string> got_notes;
    for (const auto& n : v.notes)
      if (n == "probable-misaddress") got_notes.insert(n);
    ++r.messages;
    for (const char* c : kCategories) {
      bool w = want.count(c), g = got.count(c);
      if (w && g)
        ++r.tp[c];
      else if (g)
        ++r.fp[c];
      else if (w)
        ++r.fn[c];
    }
    if (want == got && want_notes == got_notes) {
      ++r.exact;
    } else {
      std::ostringstream m;
      m << set << "/" << file << ": want [";
      for (const auto& c : want) m << c << " ";
      m << "] got [";
      for (const auto& c : got) m << c << " ";
      m << "]";
      if (want_notes != got_notes) m << " (misaddress note differs)";
      r.mismatches.push_back(m.str());
    }
  }
  std::printf("\n%s: %d messages, %d exact\n%-16s %4s %4s %4s %7s %7s %7s\n", set.c_str(),
              r.messages, r.exact, "category", "TP", "FP", "FN", "prec", "recall", "F1");
  double sum = 0;
  int n = 0;
  for (const char* c : kCategories) {
    int tp = r.tp[c], fp = r.fp[c], fn = r.fn[c];
    double p = tp + fp ? double(tp) / (tp + fp) : 1.0, rc = tp + fn ? double(tp) / (tp + fn) : 1.0;
    double f1 = p + rc > 0 ? 2 * p * rc / (p + rc) : 0.0;
    if (tp + fn) {
      sum += f1;
      ++n;
    }
    std::printf("%-16s %4d %4d %4d %7.3f %7.3f %7.3f\n", c, tp, fp, fn, p, rc, f1);
  }
  r.macro_f1 = n ? sum / n : 1.0;
  std::printf("macro-F1 %.3f\n", r.macro_f1);
  for (const auto& m : r.mismatches) std::printf("  mismatch: %s\n", m.c_str());
  return r;
}

TEST(Corpus, DevelopmentSetMatchesEveryLabel) {
  Result r = run("dev");
  EXPECT_GE(r.messages, 150);
  EXPECT_TRUE(r.mismatches.empty()) << r.mismatches.size() << " messages differ from their labels";
}

// Written by a second author who never saw the rules; its first-look scores are in the
// README. It was then used for development, so it must match too.
TEST(Corpus, SecondDevelopmentSetMatchesEveryLabel) {
  Result r = run("dev2");
  EXPECT_GE(r.messages, 60);
  EXPECT_TRUE(r.mismatches.empty()) << r.mismatches.size() << " messages differ from their labels";
}

TEST(Corpus, AttachmentSetMatchesEveryLabel) {
  Result r = run("attachments");
  EXPECT_GE(r.messages, 40);
  EXPECT_TRUE(r.mismatches.empty()) << r.mismatches.size() << " messages differ from their labels";
}

// Written by a third author who never saw the rules. Its first-look scores are in the
// README; it was then used to generalise rules, so it must keep scoring well.
TEST(Corpus, HeldOutSetIsReported) {
  Result r = run("heldout");
  EXPECT_GE(r.messages, 60);
  EXPECT_GE(r.macro_f1, 0.95);
}

// Written last by a fourth author who never saw the rules, and never tuned on: the honest
// measure of mail the filter has not seen. Reported; the bound only catches a regression.
TEST(Corpus, BlindSetIsReported) {
  Result r = run("blind");
  EXPECT_GE(r.messages, 60);
  EXPECT_GE(r.macro_f1, 0.94);
}

// Three sets written for issue 10 by three writers who never saw the rules, each from its own
// brief (the office and site staff; pastoral and SEN; the staffroom and governors), half
// near misses. Their first-look scores (with the rules before issue 10) are in the README;
// the rules were then generalised on them - never by a message's own phrase - so they are
// reported per category and guarded against regression, not matched exactly.
// Reported per category; the bound only catches a regression.
void expect_reported(const char* set, int min_messages, double min_f1) {
  Result r = run(set);
  EXPECT_GE(r.messages, min_messages) << set;
  EXPECT_GE(r.macro_f1, min_f1) << set;
}

TEST(Corpus, TuningSetAIsReported) {
  expect_reported("tune-a", 100, 0.95);
}
TEST(Corpus, TuningSetBIsReported) {
  expect_reported("tune-b", 100, 0.97);
}
TEST(Corpus, TuningSetCIsReported) {
  expect_reported("tune-c", 100, 0.95);
}

// Three more sets for issue 10, written by three more writers who never saw the rules or the
// other sets (the office, kitchen and site staff; class teachers and TAs; leadership, HR,
// attendance and governors), measured first with the rules as they stood (README) and then
// used to generalise mechanisms. Reported; the bounds only catch a regression.
TEST(Corpus, TuningSetDIsReported) {
  expect_reported("tune-d", 75, 0.93);
}
TEST(Corpus, TuningSetEIsReported) {
  expect_reported("tune-e", 75, 0.96);
}
TEST(Corpus, TuningSetFIsReported) {
  expect_reported("tune-f", 70, 0.94);
}

// Two more sets for issue 10's third round, written by one more writer who never saw the
// rules or any set (80 messages each, half near misses), measured first with the rules of
// cc09c86 (0.813 and 0.842, README) and then used to generalise mechanisms. Reported; the
// bounds only catch a regression.
TEST(Corpus, TuningSetGIsReported) {
  expect_reported("tune-g", 78, 0.97);
}
TEST(Corpus, TuningSetHIsReported) {
  expect_reported("tune-h", 78, 0.98);
}

// The final blind set of issue 10: two writers who saw neither the rules nor the tuning
// sets wrote it after the tuning freeze; it was scanned once and is never tuned on. The
// bound only catches a regression of its first (and only honest) figure, macro-F1 0.866.
TEST(Corpus, FinalBlindSetIsReported) {
  expect_reported("final-blind", 130, 0.88);
}

// The second final blind set (issue 10, second round): two more writers who saw neither the
// rules nor any set wrote it after the second round froze; scanned once (0.852), never
// tuned on (0.875 with the third round's rules, 0.889 with the fourth's). The bound only
// catches a regression.
TEST(Corpus, FinalBlindSet2IsReported) {
  expect_reported("final-blind-2", 165, 0.87);
}

// The third final blind set (issue 10, third round): one writer shown neither the rules nor
// any set (nor the spec's examples beyond POLICY.md) wrote it while the third round was being
// tuned; it was copied in after the rules froze and scanned once (0.826; the rules before
// the round: 0.821). It was then a tuning set of the fourth round (README), so it is
// guarded like one: the bound only catches a regression.
TEST(Corpus, FinalBlindSet3IsReported) {
  expect_reported("final-blind-3", 160, 0.95);
}

// The fourth final blind set (issue 10, 3 Dec): one more writer shown only POLICY.md and the
// policy, with a brief of its own (SENCo, business manager, early years, supply and student
// teachers, governors, clubs, IT); written after the rules of the third round (unchanged
// since), scanned once (0.893). It was then a tuning set of the fourth round (README); the
// bound only catches a regression.
TEST(Corpus, FinalBlindSet4IsReported) {
  expect_reported("final-blind-4", 183, 0.97);
}

// The fourth round's own tuning set (issue 10, 3 Dec): one more writer shown only POLICY.md
// and the policy, briefed on the extended school (clubs, music, coaches, trips, PTA,
// admissions, the chaplain, midday supervisors); first look 0.859 with the third round's
// rules (805a176), then used to generalise mechanisms. The bound only catches a regression.
TEST(Corpus, TuningSetIIsReported) {
  expect_reported("tune-i", 140, 0.97);
}

// The fifth final blind set (issue 10, fourth round): one more writer shown only POLICY.md
// and the policy, briefed on a term's hard moments, wrote it into a folder the tuner never
// opened; copied in after the fourth round froze (2b3dd1d) and scanned once: 0.815 (the
// third round's rules: 0.808). It was then used to generalise mechanisms (README), so the
// bound only catches a regression.
TEST(Corpus, FinalBlindSet5IsReported) {
  expect_reported("final-blind-5", 150, 0.91);
}

}  // namespace
