// The policy as data: categories, lexicons, URL classes and rules, loaded from rules/*.toml
// and compiled into Hyperscan databases once per snapshot (never per message).
//
// A rule fires on an *anchor* - its own Hyperscan `pattern`, a lexicon, a URL class
// ("url:blog") or a detector ("person-name", "people-list") - and then checks its context
// declaratively: every entry of `with` must occur in the anchor's window, no entry of
// `without` may. An entry is "name" or "a|b|c" (any of). Windows: "sentence" (default),
// "line", "paragraph", "segment", or a number of characters either side. A `validator`
// (upn, nhs, uln, nino, sort-account) checks the anchor's bytes. See rules/README.md.
//
// Local rules: files of the school's own directory ([rules] local_dir) are read after the
// shipped ones and kept apart from them. A local file may add lexicons and rules (a rule's
// category is its id's prefix: "abusive.staffroom-slang"), extend a shipped lexicon (a
// `[lexicons.NAME]` that exists already gets the terms added), and change a shipped rule by
// id: `[[rule]] id = "..."` with only `enabled = false` and/or `weight = N`. Every change is
// recorded (local_changes(), Rule::local) for `policyctl rules check` and `--explain`.
//
// Errors: RuleSet::load throws ConfigError with the file:line of the offending rule (TOML
// syntax, an unknown key or table - with the nearest valid name -, a value of the wrong type
// or range, an id whose prefix is not its category, an upper-case term, an unknown lexicon,
// a pattern Hyperscan refuses). Thread safety: immutable after
// load; scanning state lives in the caller's Scratch.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "decode/segment.h"
#include "policy/recipient_class.h"
#include "sentence/reading.h"

namespace pm {

struct CategoryDef {
  std::string id;
  std::string clause;
  std::vector<RecipientClass> applies_to;  // classes for which the category counts
  double threshold = 1.0;                  // sum of rule weights needed
  // Only the sender's own words count: forwarded messages and quoted replies are skipped.
  bool own_words = false;
  // Recipient roles it counts for besides applies_to (policy/recipient_role.h): "pupil",
  // "parent" (known or presumed), "business", "partner", "staff". Empty: any.
  std::vector<std::string> roles;
  std::string file;
  int line = 0;
};

// A context condition: any one of `names` (lexicon, detector or URL class ids).
struct Condition {
  std::vector<int> refs;  // indexes into RuleSet::refs()
  std::string text;       // as written, for messages
};

enum class WindowKind { sentence, line, paragraph, segment, chars };

struct Rule {
  std::string id;
  std::string category;
  std::string clause;
  std::string file;
  int line = 0;
  // Exactly one anchor: an own pattern (compiled into the database) or a ref.
  std::string pattern;
  bool compact_view = false;  // match on the digits-compacted view (identifiers)
  int anchor_ref = -1;        // when there is no own pattern
  std::string validator;      // "" or a name known to find_validator()
  std::vector<Condition> with, without;
  // Conditions that cancel the rule only when they come *before* the anchor, in its window
  // and within 60 characters: "please don't add me" is a refusal, "text me, not the
  // school" an invitation.
  std::vector<Condition> without_before;
  WindowKind window = WindowKind::sentence;
  int window_chars = 0;
  double weight = 1.0;
  std::vector<SegmentKind> scope;  // empty: every kind
  // A URL anchor whose address carries the name of a person the message names, who is
  // not the sender, is someone else's published work, credited ("this post by Dr Ruth
  // Kemble: ruthkemble.wordpress.com"): the hit is dropped.
  bool credited_exempt = false;
  // Narrows the category's recipient condition for this rule (empty: the category's).
  std::vector<RecipientClass> applies_to;
  // The sentence layer (sentence/reading.h): the anchor's unit must have, for each entry,
  // one of its targets / stances, and none of `without_stance`; `without_target`: the
  // target the anchor is about (the nearest, one before it preferred) is none of these.
  std::vector<std::vector<Target>> targets;
  std::vector<std::vector<Stance>> stances;
  std::vector<Stance> without_stance;
  std::vector<Target> without_target;
  // > 0: the target and the stance must be this close (characters between them) - an
  // adjective is predicated of the person next to it, not of one five clauses away.
  int reach = 0;
  bool reads_sentence() const {
    return !targets.empty() || !stances.empty() || !without_stance.empty() ||
           !without_target.empty();
  }
  std::vector<std::string> examples_match, examples_no_match;
  bool enabled = true;  // false: switched off (a local file's `enabled = false`); not compiled
  // What the school's local files did to this rule ("local.d/x.toml:3: added",
  // "local.d/x.toml:9: weight 1 -> 0.5"); empty for a shipped rule left as shipped.
  std::string local;
};

// One change a local file made: "FILE:LINE: rule abusive.x disabled".
struct LocalChange {
  std::string file;
  int line = 0;
  std::string what;
};

// What a name in with/without/anchor refers to.
enum class RefKind { lexicon, detector, url_class };
struct Ref {
  RefKind kind;
  std::string name;
  // A typed lexicon is a cue of the sentence layer: a target (with a detail such as the
  // protected characteristic of a group) or a stance. -1: untyped.
  int target = -1, stance = -1;
  std::string detail;
  // A typed lexicon's hit followed by one of these words is not that cue: "the school" in
  // "the school gate" is a place, not the school as a body; "no" in "no wonder" negates
  // nothing.
  std::vector<std::string> not_before;
};

struct UrlClasses {
  // Built by index_url_classes(): host -> (path prefix, class rank) for the lists below, so
  // classifying a URL is a few hash lookups (one per label of its host), not a walk.
  std::unordered_map<std::string, std::vector<std::pair<std::string, int>>> index;
  std::vector<std::string> official;        // school site + official accounts (host[/path])
  std::vector<std::string> allow;           // hosts never personal (gov.uk, bbc.co.uk, ...)
  std::vector<std::string> social;          // hosts whose paths are profiles
  std::vector<std::string> social_content;  // first path segments that are content, not a profile
  std::vector<std::string> blog;            // blogging / personal-site platforms
  std::vector<std::string> shortener;       // link shorteners
};

class HsDatabases;  // match/hs.h

class RuleSet {
 public:
  // Loads every *.toml in `dir` (lexicons.toml, one file per category, ...), then every
  // *.toml in `local_dir` (the school's own; a missing directory is no local rules unless
  // `local_required`). `official` are the school's own site and social accounts from the
  // configuration; `cache_dir`, when set, keeps serialised Hyperscan databases so a restart
  // does not recompile.
  static std::unique_ptr<RuleSet> load(const std::filesystem::path& dir,
                                       const std::vector<std::string>& official,
                                       const std::vector<std::string>& given_names_extra,
                                       const std::filesystem::path& cache_dir = {},
                                       const std::filesystem::path& local_dir = {},
                                       bool local_required = false);
  ~RuleSet();

  const std::vector<CategoryDef>& categories() const { return categories_; }
  const CategoryDef* category(const std::string& id) const;
  const std::vector<Rule>& rules() const { return rules_; }  // enabled rules only
  // What the local files changed, in the order read (disabled rules are listed here).
  const std::vector<LocalChange>& local_changes() const { return local_changes_; }
  const Rule* rule(const std::string& id) const;
  const std::vector<Ref>& refs() const { return refs_; }
  const UrlClasses& urls() const { return urls_; }
  const HsDatabases& databases() const { return *dbs_; }
  // Given names for the name detector (rules/names/given-names.txt + roster first names).
  const std::vector<std::string>& given_names() const { return given_names_; }
  const std::vector<std::string>& name_stopwords() const { return name_stopwords_; }
  // Allow-list entries that are whole restricted-registration suffixes (gov.uk, nhs.uk...),
  // accepted as such: `policyctl rules check` lists them.
  const std::vector<std::string>& restricted_allowed() const { return restricted_allowed_; }
  std::size_t pattern_count() const;
  const std::string& hash() const { return hash_; }
  // Read from the warm-start snapshot (match/rule_snapshot.h) rather than parsed.
  bool from_snapshot() const { return from_snapshot_; }

  // Internal: used by the matcher.
  struct PatternInfo {
    int rule = -1;         // own pattern of this rule, or
    int lexicon = -1;      // a term of this lexicon (ref index)
    bool url = false;      // the URL shape pattern
    bool acronym = false;  // counts only where the source text is in capitals ("SEND", not "send")
  };
  const std::vector<PatternInfo>& pattern_info() const { return pattern_info_; }

 private:
  RuleSet();
  friend class RuleLoader;
  friend class RuleSnapshot;  // match/rule_snapshot.h: the warm-start copy
  std::vector<CategoryDef> categories_;
  std::vector<Rule> rules_;
  std::vector<LocalChange> local_changes_;
  std::vector<Ref> refs_;
  UrlClasses urls_;
  std::vector<std::string> given_names_, name_stopwords_, restricted_allowed_;
  std::vector<PatternInfo> pattern_info_;
  std::unique_ptr<HsDatabases> dbs_;
  std::string hash_;
  bool from_snapshot_ = false;
};

}  // namespace pm
