// The sentence layer's reading of one unit (sentence, table row, list item, Subject): who
// it is about (its targets) and what it says about them (its stance).
//
// The cues come from typed lexicons (rules/lexicons.toml: `target = "parent"`,
// `stance = "demeaning"`) found by the Hyperscan pass, and from detectors (a person's
// name is a `person` target). read_unit() turns the cues of one unit into a reading:
//   - negation: "not", "never", "no" just before an evaluation, in the same clause, turns
//     it into `negation` ("she is not lazy", "I would never call him thick");
//   - reported speech: a unit that reports someone else's words ("he called her...",
//     "according to") turns its negative stances into `reported` - unless the sender
//     endorses them ("and he's right", "couldn't agree more");
//   - quotation: an evaluation inside double quotation marks is `reported` too (the
//     words are mentioned - an incident log, a lesson on name-calling - not said);
//   - irony: mock praise ("what a *wonderful* 'leadership' team") is criticism;
//   - anaphora: "they", "those" in a unit with no group of its own refer to a group the
//     previous unit of the same paragraph named ("The X families... They always ...").
//   - a unit with no target of its own ("Wellbeing, apparently.") is about the targets of
//     the previous unit of the same paragraph.
// Rules then ask for a target and a stance in one unit (match/rules.h).
//
// Pure; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sentence/units.h"

namespace pm {

// `named`: a person named (or identified: "her son") - the person-name detector;
// `person`: someone spoken of ("he", "that woman", "the TA").
// `staff`: a member of the school's staff spoken of by role ("the new SENCo").
enum class Target { person, you, pupil, parent, group, school, sender, anaphor, named, staff };
enum class Stance {
  derogatory,      // insulting nouns and adjectives, slurs
  demeaning,       // belittling constructions: mocking literacy, intelligence, parenting
  generalising,    // said of a whole group: "they're all", "always", "people like that"
  threatening,     // threats, intimidation, "watch your back"
  discriminatory,  // a decision on a protected ground: "we won't take her, she's pregnant"
  criticism,       // disparagement of the school, its leaders or staff
  praise,
  reported,     // someone else's words reported ("he said", "she called him")
  negation,     // an evaluation negated ("not lazy")
  endorsement,  // the sender agrees with reported words ("and she's right")
  irony,        // irony markers: scare quotes, "so-called", "what a surprise"
};

const char* to_string(Target t);
const char* to_string(Stance s);
std::optional<Target> parse_target(std::string_view s);
std::optional<Stance> parse_stance(std::string_view s);

// One cue found in the text: a target or a stance word, with its span (normalised text).
// `detail` qualifies a group target with its protected characteristic ("race",
// "religion", "sex", "disability", "age", "sexual-orientation", "gender-reassignment",
// "pregnancy", "marriage") or is empty.
struct Cue {
  TextRange span;
  bool is_target = false;
  int kind = 0;  // Target or Stance, by is_target
  std::string detail;
  int tag = -1;  // the caller's own (the matcher: a pattern whose exact start is pending)
};

struct Found {
  TextRange span;
  int kind = 0;
  std::string detail;
};

struct Reading {
  TextRange unit;
  std::vector<Found> targets;  // Target kinds
  std::vector<Found> stances;  // Stance kinds, after negation / reporting / irony
  bool has_target(Target t) const;
  bool has_stance(Stance s) const;
};

// Reads `unit` of `text`. `cues` must be sorted by end and may hold cues outside the unit
// (they are ignored, except a group named in `previous` - the unit before, in the same
// paragraph, or an empty range - for anaphora).
Reading read_unit(std::string_view text, TextRange unit, TextRange previous,
                  const std::vector<Cue>& cues);

// A clause boundary between two offsets (",", ";", ":", brackets, " but ", " and "...):
// an evaluation on one side is not predicated of a person on the other.
bool clause_break(std::string_view text, std::size_t from, std::size_t to);

// "parent \"your son\"", for --explain: the kind and the words of a found cue.
std::string describe(std::string_view text, const Found& f, bool target);

}  // namespace pm
