// The match + validate passes over one segment: normalise, scan both Hyperscan views,
// expand URLs, detect names, check validators, then evaluate each rule's anchor and
// context (with / without within its window). Returns rule hits with offsets in the
// segment's original text.
//
// Errors: throws ScanError only if Hyperscan fails. Thread safety: const after
// construction; scan_segment may run on any number of threads.
#pragma once

#include <string>
#include <vector>

#include "decode/segment.h"
#include "match/names.h"
#include "match/rules.h"

namespace pm {

struct RuleHit {
  int rule = -1;
  std::size_t segment = 0;
  std::size_t start = 0, end = 0;  // byte offsets into the segment's text
  // Rules that read the sentence layer: the target and stance found in the anchor's unit
  // ("parent \"your son\"", "demeaning \"can't even spell\""), and the unit's named
  // persons (for the parent-contacts check). Empty otherwise.
  std::string target, stance;
  std::vector<std::string> persons;
  // The anchor is in quoted reply text ("> ..." or after "On ... wrote:").
  bool quoted = false;
};

// What the matcher needs to know about the message around one segment.
struct SegmentContext {
  // The segment is someone else's (a forwarded message by another author), so rules
  // whose category counts only the sender's own words skip it.
  bool others_words = false;
  // The sender endorses the words they forward or quote ("couldn't agree more"): quoted
  // and forwarded text counts as their own.
  bool endorsed = false;
  // The sender's name as a personal site carries it (lower case): first + last run
  // together, found anywhere in the host ("jomarshwrites.example" from Jo Marsh), and
  // "=word" entries (a single name) found only as a whole word of the host or path
  // ("marsh-art.example", not "marshfieldfarm"). A URL that carries one and is not the
  // school's or an allowed site is `url:sender-named` - the sender's own.
  const std::vector<std::string>* sender_names = nullptr;
};

class Matcher {
 public:
  Matcher(const RuleSet& rules, NameLexicon names);

  // Appends the hits of every rule (or only `only_rule`) in one segment.
  void scan_segment(const Segment& seg, std::size_t seg_index, std::vector<RuleHit>& out,
                    int only_rule = -1, const SegmentContext& ctx = {}) const;

  // Runs every rule's `match` / `no_match` examples; returns "file:line: ..." messages for
  // the ones that misbehave (empty when all pass).
  std::vector<std::string> check_examples() const;

  const RuleSet& rules() const { return rules_; }

  // Which lexicons (by ref index) occur in `text`, split into the sender's own words and
  // the quoted or forwarded mail it answers. For message-level cues (who the recipient
  // is); costs one scan of the text, so the engine asks only when a finding needs it.
  struct Presence {
    std::vector<bool> own, quoted;
  };
  // Only `wanted` refs are looked for (the databases they live in are scanned), in the
  // first `max_bytes` of the text; `own_only`: only the sender's own words (the text
  // before the first quoted line or attribution).
  Presence lexicon_presence(std::string_view text, const std::vector<int>& wanted,
                            std::size_t max_bytes, bool own_only = false) const;
  int ref_index(std::string_view name) const;
  // Person names in a text (the detector the rules use), for message-level checks.
  std::vector<TextSpan> person_names(std::string_view text) const {
    return find_person_names(text, names_);
  }

 private:
  const RuleSet& rules_;
  NameLexicon names_;
  int ref_person_ = -1, ref_people_list_ = -1, ref_list_detail_ = -1;
  std::vector<int> url_refs_;  // by UrlClass, then url:any last
  int ref_sender_named_ = -1;
  std::vector<bool> own_words_;   // per rule: its category counts only the sender's own words
  std::vector<bool> uses_names_;  // per rule: its anchor or conditions need the name detector
  std::vector<bool>
      anchors_ref_;  // per ref: some rule is anchored on it (its hits need exact starts)
  std::vector<bool> exact_ref_;  // per ref: its hits need exact starts (anchors, cues)
  std::vector<bool> lazy_ref_;   // per ref: an anchor whose exact starts wait (sentence rules only)
  std::vector<int> typed_refs_;  // refs that are cues of the sentence layer (target or stance)
};

}  // namespace pm
