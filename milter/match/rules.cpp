#include "match/rules.h"

#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "config/check.h"
#include "match/hs.h"
#include "match/psl.h"
#include "match/rule_snapshot.h"
#include "match/urls.h"
#include "policy/validators.h"
#include "sentence/stem.h"
#include "util/error.h"
#include "util/strings.h"
#include "util/toml_read.h"

namespace pm {

// The longest alternation handed to Hyperscan as one pattern (its parser refuses much
// longer ones: "Pattern length exceeds limit").
constexpr std::size_t kMaxAlternation = 12000;

namespace {

// Detectors implemented in C++ (match/names.h) and URL classes (match/urls.h).
const char* const kDetectors[] = {"person-name", "people-list"};
const char* const kUrlClasses[] = {"url:official",       "url:allow", "url:social-profile",
                                   "url:social-content", "url:blog",  "url:shortener",
                                   "url:other",          "url:any",   "url:sender-named"};

// Start of a URL in normalised text: a scheme, "www.", or a dot before a common TLD. The
// matcher expands each hint to the whole URL token (match/urls.cpp).
const char* const kUrlHint =
    R"((?:https?://|www\.|[a-z0-9]\.(?:com|org|net|uk|io|me|blog|info|ly|gl|gd|co|tv|app|site|online|xyz|page|dev|example|social|link|ee|to|edu|art|photo|photography|art|studio|design|live|life|club|space|website|tech)\b))";

int line_of(const toml::node& n) {
  return static_cast<int>(n.source().begin.line);
}

}  // namespace

class RuleLoader {
 public:
  RuleLoader(RuleSet& rs) : rs_(rs) {
    for (const char* d : kDetectors) add_ref(RefKind::detector, d);
    rs_.refs_[0].target = static_cast<int>(Target::named);  // person-name: a named person
    for (const char* u : kUrlClasses) add_ref(RefKind::url_class, u);
  }

  void load_dir(const std::filesystem::path& dir, const std::filesystem::path& local_dir,
                bool local_required) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
      throw ConfigError(dir.string(), 0, "rules directory not found");
    auto parsed = parse_dir(dir, "");
    if (parsed.empty()) throw ConfigError(dir.string(), 0, "no *.toml rule files");
    // An emptied file must not switch a category off unnoticed (issue 11): a rules file
    // that defines nothing is refused; a category is switched off only in [actions].
    for (auto& [f, t] : parsed)
      if (t.empty())
        throw ConfigError(f.string(), 1,
                          "rules file defines nothing (no rule, category or lexicon): "
                          "refused; switch a category off in [actions] instead");
    // Lexicons first: rules refer to them by name, whatever file they sit in.
    for (auto& [f, t] : parsed) check_tables(f.string(), t);
    for (auto& [f, t] : parsed) load_lexicons(f.string(), t, false);
    for (auto& [f, t] : parsed) load_urls(f.string(), t, false);
    for (auto& [f, t] : parsed) load_category_and_rules(f.string(), t, false);
    load_names(dir / "names");
    // The school's own files, after every shipped one: they add to and change the shipped
    // rules, never the other way round, and replacing the shipped directory leaves them be.
    if (local_dir.empty()) return;
    if (!std::filesystem::is_directory(local_dir, ec)) {
      if (local_required)
        throw ConfigError(local_dir.string(), 0,
                          "local rules directory not found ([rules] local_dir)");
      return;
    }
    auto local = parse_dir(local_dir, "local/");
    for (auto& [f, t] : local) check_tables(f.string(), t);
    for (auto& [f, t] : local) load_lexicons(f.string(), t, true);
    for (auto& [f, t] : local) load_urls(f.string(), t, true);
    for (auto& [f, t] : local) load_category_and_rules(f.string(), t, true);
  }

  // Every *.toml of `dir`, sorted and parsed; part of the snapshot hash (by `tag` + name,
  // so the same files give the same snapshot wherever they are).
  std::vector<std::pair<std::filesystem::path, toml::table>> parse_dir(
      const std::filesystem::path& dir, const std::string& tag) {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir))
      if (e.path().extension() == ".toml") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    std::vector<std::pair<std::filesystem::path, toml::table>> parsed;
    for (const auto& f : files) {
      std::string content = read_file(f.string());
      hash_input_ += tag + f.filename().string() + "\n" + content;
      try {
        parsed.emplace_back(f, toml::parse(content, f.string()));
      } catch (const toml::parse_error& e) {
        throw ConfigError(f.string(), static_cast<int>(e.source().begin.line),
                          std::string(e.description()));
      }
    }
    return parsed;
  }

  // The tables a rules file may hold.
  static void check_tables(const std::string& file, const toml::table& t) {
    static const std::vector<std::string> known = {"category", "rule", "lexicons", "urls",
                                                   "description"};
    for (const auto& [k, v] : t)
      if (std::find(known.begin(), known.end(), k.str()) == known.end())
        throw ConfigError(file, line_of(v), config::unknown("table or key", k.str(), known));
  }

  // An unknown key of `t` is refused, with the nearest valid one.
  static void check_keys(const std::string& file, const toml::table& t,
                         const std::vector<std::string>& known, const std::string& where) {
    for (const auto& [k, v] : t)
      if (std::find(known.begin(), known.end(), k.str()) == known.end())
        throw ConfigError(file, line_of(v), config::unknown("key", k.str(), known, " in " + where));
  }

  void record(const std::string& file, int line, std::string what) {
    rs_.local_changes_.push_back({file, line, std::move(what)});
  }

  void finish(const std::vector<std::string>& official,
              const std::vector<std::string>& extra_names) {
    for (const auto& o : official) rs_.urls_.official.push_back(to_lower_ascii(o));
    index_url_classes(rs_.urls_);
    for (const auto& n : extra_names) rs_.given_names_.push_back(to_lower_ascii(n));
    std::sort(rs_.given_names_.begin(), rs_.given_names_.end());
    rs_.given_names_.erase(std::unique(rs_.given_names_.begin(), rs_.given_names_.end()),
                           rs_.given_names_.end());
    std::vector<std::string> ids;
    for (const auto& c : rs_.categories_) ids.push_back(c.id);
    for (auto& r : rs_.rules_) {
      const CategoryDef* c = rs_.category(r.category);
      if (!c)
        throw ConfigError(r.file, r.line,
                          "rule " + r.id + ": " + config::unknown("category", r.category, ids));
      if (r.clause.empty()) r.clause = c->clause;  // a rule enforces its category's clause
    }
    // Switched off by a local file: not compiled, not judged (local_changes() says so).
    rs_.rules_.erase(std::remove_if(rs_.rules_.begin(), rs_.rules_.end(),
                                    [](const Rule& r) { return !r.enabled; }),
                     rs_.rules_.end());
    for (const auto& c : rs_.categories_)
      if (std::none_of(rs_.rules_.begin(), rs_.rules_.end(),
                       [&](const Rule& r) { return r.category == c.id; }))
        throw ConfigError(
            c.file, c.line,
            "category " + c.id + " has no rule: refused; switch it off in [actions] instead");
    // Patterns: rules' own, lexicon terms, the URL hint.
    std::vector<HsPattern>& patterns = patterns_;
    for (std::size_t i = 0; i < rs_.rules_.size(); ++i) {
      const Rule& r = rs_.rules_[i];
      if (r.pattern.empty()) continue;
      patterns.push_back({r.pattern, r.compact_view ? HsView::compact : HsView::anchors,
                          r.file + ":" + std::to_string(r.line)});
      rs_.pattern_info_.push_back({static_cast<int>(i), -1, false});
    }
    // Lexicons that anchor a rule are scanned everywhere, with exact starts (their hits
    // become evidence). The rest are context, scanned only around anchors (and, for
    // list-detail, over text shaped like a list). Acronyms need their start too (their
    // first word's case is checked).
    std::set<int> anchors;
    for (const auto& r : rs_.rules_)
      if (r.anchor_ref >= 0) anchors.insert(r.anchor_ref);
    const std::set<int>& everywhere = anchors;
    // A lexicon compiles to one alternation (plus one for its acronyms): Hyperscan scans
    // a few dozen large alternations faster than a thousand small patterns. Each term is
    // first compiled alone so an error still names its own file:line.
    for (const auto& [ref, terms] : lexicon_terms_) {
      for (bool acronym : {false, true}) {
        std::string merged;
        std::string origin;
        std::vector<std::pair<std::string, std::string>> parts;  // checked alone on a cache miss
        // The sentence layer's cues need their starts too (how close a stance is to its
        // target, what --explain shows).
        const bool typed = rs_.refs_[ref].target >= 0 || rs_.refs_[ref].stance >= 0;
        auto flush = [&] {
          if (merged.empty()) return;
          patterns.push_back({merged, everywhere.count(ref) ? HsView::anchors : HsView::context,
                              origin, anchors.count(ref) > 0 || acronym || typed, acronym,
                              std::move(parts)});
          rs_.pattern_info_.push_back({-1, ref, false, acronym});
          merged.clear();
          origin.clear();
          parts.clear();
        };
        for (const auto& t : terms) {
          if (t.acronym != acronym) continue;
          std::string w = wrap_term(t.text);
          // Hyperscan refuses a pattern past its length limit: a long lexicon (an admin's
          // local additions included) becomes several alternations of the same lexicon.
          if (!merged.empty() && merged.size() + w.size() > kMaxAlternation) flush();
          parts.emplace_back(std::move(w), t.origin);
          merged += (merged.empty() ? "" : "|") + parts.back().first;
          if (origin.empty()) origin = t.origin;
        }
        flush();
      }
    }
    // The URL hint is expanded to its whole token both ways: any point inside will do.
    patterns.push_back({kUrlHint, HsView::anchors, "built-in:0", false});
    rs_.pattern_info_.push_back({-1, -1, true});
    std::size_t h = std::hash<std::string>{}(hash_input_);
    std::ostringstream ss;
    ss << std::hex << h;
    rs_.hash_ = ss.str();
    rs_.dbs_ = HsDatabases::compile(patterns, cache_dir_);
  }

  std::filesystem::path cache_dir_;
  std::vector<HsPattern>
      patterns_;  // what the databases were compiled from (the snapshot keeps them)

 private:
  int add_ref(RefKind kind, const std::string& name) {
    auto it = ref_index_.find(name);
    if (it != ref_index_.end()) return it->second;
    int idx = static_cast<int>(rs_.refs_.size());
    rs_.refs_.push_back({kind, name});
    ref_index_[name] = idx;
    return idx;
  }

  // A lexicon term is a Hyperscan fragment over normalised (lower-case) text. It is
  // wrapped in word boundaries where it starts/ends with a word character, and a space in
  // it matches any single white space (normalised text has no runs).
  static std::string wrap_term(const std::string& term) {
    std::string body;
    for (char c : term) body += (c == ' ') ? std::string("\\s") : std::string(1, c);
    // Does the term begin/end with something that matches a word character? Then it gets
    // a word boundary there, so "sen" does not match inside "sentence" and "\d{10}" not
    // inside a 13-digit ISBN.
    auto starts_wordish = [&]() {
      char c = term.front();
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '(' || c == '[') return true;
      return c == '\\' && term.size() > 1 && (term[1] == 'd' || term[1] == 'w');
    };
    auto ends_wordish = [&]() {
      char c = term.back();
      // An escaped punctuation mark (":-\)", "\[sic\]") is that mark, not a group.
      if (term.size() > 1 && term[term.size() - 2] == '\\' &&
          !std::isalnum(static_cast<unsigned char>(c)))
        return false;
      return std::isalnum(static_cast<unsigned char>(c)) || c == ')' || c == '?' || c == ']' ||
             c == '+' || c == '*' || c == '}';
    };
    std::string out;
    if (!term.empty() && starts_wordish()) out += "\\b";
    out += "(?:" + body + ")";
    if (!term.empty() && ends_wordish()) out += "\\b";
    return out;
  }

  // Normalised text is lower case: an upper-case letter in a term or pattern can never
  // match. Escapes (\d, \W, \x41, \p{Lu}) are not letters of the text. npos: none.
  static std::size_t upper_case_at(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '\\') {
        ++i;
        if (i < s.size() && (s[i] == 'x' || s[i] == 'p' || s[i] == 'P')) {
          if (i + 1 < s.size() && s[i + 1] == '{')
            i = std::min(s.find('}', i), s.size());
          else if (s[i] == 'x')
            i += std::min<std::size_t>(2, s.size() - i - 1);
        }
        continue;
      }
      if (s[i] >= 'A' && s[i] <= 'Z') return i;
    }
    return std::string_view::npos;
  }

  // Adds `terms` and `acronyms` of `lt` to lexicon `ref`; returns how many.
  std::size_t add_terms(const std::string& file, const std::string& n, const toml::table& lt,
                        int ref) {
    auto& terms = lexicon_terms_[ref];
    std::size_t added = 0;
    // `acronyms` are terms that count only when written in capitals: "SEND" is a need,
    // "send" a verb; "ADD" a diagnosis, "add me" an invitation.
    for (const char* key : {"terms", "acronyms"}) {
      const toml::node* list = lt.get(key);
      if (!list) continue;
      const toml::array* arr = list->as_array();
      if (!arr)
        throw ConfigError(file, line_of(*list), "lexicon " + n + ": `" + key + "` must be a list");
      for (const auto& term : *arr) {
        auto s = term.value<std::string>();
        if (!term.is_string() || s->empty())
          throw ConfigError(file, line_of(term),
                            "lexicon " + n + ": a term must be a non-empty string");
        bool acronym = std::string(key) == "acronyms";
        if (!acronym && upper_case_at(*s) != std::string_view::npos)
          throw ConfigError(file, line_of(term),
                            "lexicon " + n + ": term '" + *s +
                                "' has an upper-case letter; text is matched in "
                                "lower case (rules/README.md), so write it in lower case (or, if "
                                "it counts only in "
                                "capitals, under `acronyms`)");
        std::string text = acronym ? to_lower_ascii(*s) : *s;
        if (!acronym && inflected_.count(ref)) text = inflect_term(text);
        if (!acronym && masked_.count(ref)) text = mask_term(text);
        terms.push_back({text, file + ":" + std::to_string(line_of(term)), acronym});
        ++added;
      }
    }
    return added;
  }

  void load_lexicons(const std::string& file, const toml::table& t, bool local) {
    const toml::node* ln = t.get("lexicons");
    if (!ln) return;
    const toml::table* lex = ln->as_table();
    if (!lex) throw ConfigError(file, line_of(*ln), "lexicons must be tables: [lexicons.NAME]");
    for (const auto& [name, node] : *lex) {
      const toml::table* lt = node.as_table();
      std::string n(name.str());
      if (!lt) throw ConfigError(file, line_of(node), "lexicon " + n + " must be a table");
      if (auto it = ref_index_.find(n); it != ref_index_.end()) {
        // A local file extends a lexicon that exists: its terms are added to it.
        if (!local || rs_.refs_[it->second].kind != RefKind::lexicon)
          throw ConfigError(file, line_of(node), "lexicon '" + n + "' defined twice");
        check_keys(
            file, *lt, {"terms", "acronyms", "description"},
            "lexicon " + n + " (it exists: a local file can add `terms` or `acronyms` to it)");
        std::size_t k = add_terms(file, n, *lt, it->second);
        if (k == 0)
          throw ConfigError(file, line_of(node),
                            "lexicon " + n + ": no `terms` or `acronyms` to add");
        record(file, line_of(node), "lexicon " + n + ": " + std::to_string(k) + " term(s) added");
        continue;
      }
      check_keys(file, *lt,
                 {"terms", "acronyms", "description", "target", "stance", "detail", "inflect",
                  "masked", "not_before"},
                 "lexicon " + n);
      int ref = add_ref(RefKind::lexicon, n);
      // `inflect = true`: every plain word of a term (letters only, 4 or more) also
      // matches its inflections, generated with the Snowball stemmer (sentence/stem.h).
      if (toml_bool(file, *lt, "inflect", "lexicon " + n + ": inflect", false))
        inflected_.insert(ref);
      // `masked = true`: a slur also matches split or softened ("p.i.k.e.y", "ret*rd").
      if (toml_bool(file, *lt, "masked", "lexicon " + n + ": masked", false)) masked_.insert(ref);
      if (add_terms(file, n, *lt, ref) == 0)
        throw ConfigError(file, line_of(node),
                          "lexicon " + n + " needs a non-empty `terms` or `acronyms` list");
      // A typed lexicon is a cue of the sentence layer (sentence/reading.h).
      Ref& rf = rs_.refs_[ref];
      if (lt->get("target")) {
        std::string v = toml_string(file, *lt, "target", "lexicon " + n + ": target");
        auto tk = parse_target(v);
        if (!tk)
          throw ConfigError(file, line_of(*lt->get("target")),
                            "lexicon " + n + ": unknown target '" + v + "'");
        rf.target = static_cast<int>(*tk);
      }
      if (lt->get("stance")) {
        std::string v = toml_string(file, *lt, "stance", "lexicon " + n + ": stance");
        auto sk = parse_stance(v);
        if (!sk)
          throw ConfigError(file, line_of(*lt->get("stance")),
                            "lexicon " + n + ": unknown stance '" + v + "'");
        rf.stance = static_cast<int>(*sk);
      }
      if (rf.target >= 0 && rf.stance >= 0)
        throw ConfigError(file, line_of(node),
                          "lexicon " + n + ": a lexicon is a target or a stance, not both");
      rf.detail = toml_string(file, *lt, "detail", "lexicon " + n + ": detail");
      if (const toml::node* nb = lt->get("not_before")) {
        rf.not_before = strings(file, nb, "lexicon " + n + ": not_before");
        if (rf.target < 0 && rf.stance < 0)
          throw ConfigError(file, line_of(*nb),
                            "lexicon " + n + ": not_before needs a target or a stance");
      }
      toml_string(file, *lt, "description", "lexicon " + n + ": description");
      if (local) record(file, line_of(node), "lexicon " + n + " added");
    }
  }

  // "pikey" -> "(?:p[.*_-]?(?:i|[*1!])[.*_-]?(?:k|\*)[.*_-]?(?:e|[*3])[.*_-]?y|p i k e y)":
  // every plain word of four letters or more may have a separator between its letters,
  // any letter but its first and last written as "*" or as the digit or symbol that
  // stands for it ("sp@z", "sl4g", "b1tch"), or be spelled out letter by letter with single
  // spaces ("m o n g"; in a phrase, its short words too), and its last word may take a
  // diminutive or an ending ("spazzy", "pikeys"). Terms with regular-expression syntax are
  // kept as written.
  static std::string mask_term(const std::string& term) {
    for (char c : term)
      if (!((c >= 'a' && c <= 'z') || c == ' ')) return term;
    auto stands_for = [](char c) -> std::string {
      switch (c) {
        case 'a':
          return "[*@4]";
        case 'e':
          return "[*3]";
        case 'i':
          return "[*1!]";
        case 'o':
          return "[*0]";
        case 's':
          return "[*$5]";
        default:
          return "\\*";
      }
    };
    std::string out;
    const bool phrase = term.find(' ') != std::string::npos;
    for (auto word : split(term, ' ')) {
      if (!out.empty()) out += ' ';
      if (word.size() < 4) {
        // In a phrase spelled out letter by letter ("w a s t e o f s p a c e") the short
        // words are spelled too.
        std::string spelled;
        for (char c : word) spelled += (spelled.empty() ? "" : " ") + std::string(1, c);
        out += phrase && word.size() > 1 ? "(?:" + std::string(word) + "|" + spelled + ")"
                                         : std::string(word);
        continue;
      }
      std::string joined, spelled;
      for (std::size_t i = 0; i < word.size(); ++i) {
        if (i > 0) {
          joined += "[.*_-]?";
          spelled += ' ';
        }
        spelled += word[i];
        if (i == 0 || i + 1 == word.size())
          joined += word[i];
        else
          joined += std::string("(?:") + word[i] + "|" + stands_for(word[i]) + ")";
      }
      out += "(?:" + joined + "|" + spelled + ")";
      // Softened with a diminutive or an ending ("spazzy", "mongo", "pikeys", "retardish"):
      // the last word may go on with one, its last letter doubled or not.
      if (word.data() + word.size() == term.data() + term.size())
        out += std::string("(?:") + word.back() + "?(?:y|ie|ies|ish|o|er|ers|s))?";
    }
    return out;
  }

  // "sneer at" -> "(?:sneer|sneers|sneered|sneering) at": words of letters only are
  // inflected; anything with regular-expression syntax is kept as written.
  static std::string inflect_term(const std::string& term) {
    for (char c : term)
      if (!((c >= 'a' && c <= 'z') || c == ' ' || c == '\'' || c == '-')) return term;
    std::string out;
    for (auto word : split(term, ' ')) {
      if (!out.empty()) out += ' ';
      bool plain = word.size() >= 4 &&
                   word.find_first_not_of("abcdefghijklmnopqrstuvwxyz") == std::string_view::npos;
      std::vector<std::string> forms =
          plain ? inflections(word) : std::vector<std::string>{std::string(word)};
      if (forms.size() == 1) {
        out += std::string(word);
        continue;
      }
      std::string alt;
      for (const auto& f : forms) alt += (alt.empty() ? "" : "|") + f;
      out += "(?:" + alt + ")";
    }
    return out;
  }

  static std::vector<std::string> strings(const std::string& file, const toml::node* node,
                                          const std::string& what) {
    return toml_strings(file, node, what);
  }

  void load_urls(const std::string& file, const toml::table& t, bool local) {
    const toml::node* un = t.get("urls");
    if (!un) return;
    const toml::table* u = un->as_table();
    if (!u) throw ConfigError(file, line_of(*un), "[urls] must be a table");
    check_keys(file, *u,
               {"allow", "social", "social_content", "blog", "shortener", "official", "description",
                "restricted_suffixes"},
               "[urls]");
    std::size_t added = 0;
    auto add = [&](const char* key, std::vector<std::string>& into) {
      for (auto& s : strings(file, u->get(key), std::string("urls.") + key)) {
        into.push_back(to_lower_ascii(s));
        ++added;
      }
    };
    add("allow", rs_.urls_.allow);
    add("social", rs_.urls_.social);
    add("social_content", rs_.urls_.social_content);
    add("blog", rs_.urls_.blog);
    add("shortener", rs_.urls_.shortener);
    add("official", rs_.urls_.official);
    // The allow list never holds a suffix anyone can register under (org.uk, co.uk,
    // sch.uk): it would allow every site registered there. A restricted-registration suffix
    // POLICY.md allows as a whole (gov.uk, nhs.uk, police.uk, ac.uk) must be marked as such.
    std::vector<std::string> restricted;
    for (auto& s : strings(file, u->get("restricted_suffixes"), "urls.restricted_suffixes")) {
      s = to_lower_ascii(s);
      if (!is_public_suffix(s))
        throw ConfigError(file, line_of(*u->get("restricted_suffixes")),
                          "urls.restricted_suffixes: '" + s + "' is not a public suffix");
      restricted.push_back(s);
    }
    if (const toml::node* al = u->get("allow"))
      if (const toml::array* arr = al->as_array())
        for (const auto& e : *arr) {
          std::string entry = to_lower_ascii(e.value_or(std::string()));
          std::string host = entry.substr(0, entry.find('/'));
          if (!is_public_suffix(host)) continue;
          if (std::find(restricted.begin(), restricted.end(), host) == restricted.end())
            throw ConfigError(
                file, line_of(e),
                "urls.allow: '" + entry +
                    "' is a public suffix anyone can register under (Public Suffix "
                    "List): list the sites themselves, or mark a restricted-registration suffix in "
                    "urls.restricted_suffixes");
          rs_.restricted_allowed_.push_back(host);
        }
    if (local && added)
      record(file, line_of(*un), "urls: " + std::to_string(added) + " entries added");
  }

  std::vector<Condition> conditions(const std::string& file, const toml::node* node,
                                    const std::string& what) {
    std::vector<Condition> out;
    if (!node) return out;
    for (const auto& s : strings(file, node, what)) {
      Condition c;
      c.text = s;
      for (auto part : split(s, '|')) {
        std::string name(trim(part));
        auto it = ref_index_.find(name);
        if (it == ref_index_.end())
          throw ConfigError(file, line_of(*node),
                            what + ": unknown lexicon, detector or URL class '" + name + "'");
        c.refs.push_back(it->second);
      }
      out.push_back(std::move(c));
    }
    return out;
  }

  void load_category_and_rules(const std::string& file, const toml::table& t, bool local) {
    std::string default_category, default_clause;
    if (const toml::node* cn = t.get("category")) {
      std::vector<std::string> ids;
      for (const auto& c : rs_.categories_) ids.push_back(c.id);
      if (local)
        throw ConfigError(
            file, line_of(*cn),
            "a local file cannot define a category (the categories are the policy's): add rules to "
            "one of them by id prefix, e.g. \"abusive.my-rule\"");
      const toml::table* c = cn->as_table();
      if (!c) throw ConfigError(file, line_of(*cn), "[category] must be a table");
      check_keys(file, *c,
                 {"id", "clause", "applies_to", "threshold", "own_words", "roles", "description"},
                 "[category]");
      CategoryDef def;
      def.file = file;
      def.line = line_of(*c);
      def.id = toml_string(file, *c, "id", "[category] id");
      def.clause = toml_string(file, *c, "clause", "[category] clause");
      toml_string(file, *c, "description", "[category] description");
      if (def.id.empty()) throw ConfigError(file, def.line, "[category] needs an id");
      if (rs_.category(def.id))
        throw ConfigError(file, def.line, "category '" + def.id + "' defined twice");
      for (const auto& s : strings(file, c->get("applies_to"), "applies_to")) {
        auto cls = parse_recipient_class(s);
        if (!cls)
          throw ConfigError(file, line_of(*c->get("applies_to")),
                            "unknown recipient class '" + s + "'");
        def.applies_to.push_back(*cls);
      }
      if (def.applies_to.empty())
        throw ConfigError(file, def.line, "category " + def.id + " needs applies_to");
      def.threshold = toml_number(file, *c, "threshold", "[category] threshold", 1.0, 0.001, 1000);
      def.own_words = toml_bool(file, *c, "own_words", "[category] own_words", false);
      for (const auto& r : strings(file, c->get("roles"), "roles")) {
        static const std::vector<std::string> roles = {"pupil",   "parent", "business",
                                                       "partner", "staff",  "unknown"};
        if (std::find(roles.begin(), roles.end(), r) == roles.end())
          throw ConfigError(file, line_of(*c->get("roles")),
                            config::unknown("recipient role", r, roles));
        def.roles.push_back(r);
      }
      default_category = def.id;
      default_clause = def.clause;
      rs_.categories_.push_back(std::move(def));
    }
    const toml::node* rn = t.get("rule");
    if (!rn) return;
    const toml::array* rules = rn->as_array();
    if (!rules)
      throw ConfigError(file, line_of(*rn),
                        "rules are an array of tables: write [[rule]] before each");
    static const std::vector<std::string> known = {"id",
                                                   "category",
                                                   "clause",
                                                   "pattern",
                                                   "anchor",
                                                   "view",
                                                   "validator",
                                                   "with",
                                                   "without",
                                                   "window",
                                                   "weight",
                                                   "scope",
                                                   "match",
                                                   "no_match",
                                                   "description",
                                                   "applies_to",
                                                   "without_before",
                                                   "credited_exempt",
                                                   "target",
                                                   "stance",
                                                   "without_stance",
                                                   "without_target",
                                                   "reach",
                                                   "enabled"};
    for (const auto& node : *rules) {
      const toml::table* rt = node.as_table();
      int line = line_of(node);
      if (!rt) throw ConfigError(file, line, "[[rule]] must be a table");
      check_keys(file, *rt, known, "[[rule]]");
      Rule r;
      r.file = file;
      r.line = line;
      r.id = toml_string(file, *rt, "id", "rule id");
      if (r.id.empty()) throw ConfigError(file, line, "rule without an id");
      if (auto it = rule_ids_.find(r.id); it != rule_ids_.end()) {
        if (!local)
          throw ConfigError(file, line,
                            "rule id '" + r.id + "' used twice (first at " + it->second + ")");
        override_rule(file, *rt, r.id, it->second);
        continue;
      }
      rule_ids_[r.id] = file + ":" + std::to_string(line);
      const int id_line = line_of(*rt->get("id"));  // where a misspelt id is
      // A rule's category is its id's prefix ("abusive.slur" is an abusive rule); a
      // `category` key or the file's [category] must agree with it.
      std::string prefix = r.id.substr(0, r.id.find('.'));
      r.category = toml_string(file, *rt, "category", "rule " + r.id + ": category",
                               default_category.empty() ? prefix : default_category);
      if (r.id.rfind(r.category + ".", 0) != 0 || r.id.size() == r.category.size() + 1)
        throw ConfigError(
            file, id_line,
            "rule id '" + r.id + "' must be '" + r.category + ".NAME': its prefix is its category");
      if (local && !rs_.category(r.category)) {
        std::vector<std::string> ids;
        for (const auto& c : rs_.categories_) ids.push_back(c.id);
        throw ConfigError(file, id_line,
                          "rule " + r.id + ": " + config::unknown("category", r.category, ids));
      }
      r.clause = toml_string(file, *rt, "clause", "rule " + r.id + ": clause", default_clause);
      toml_string(file, *rt, "description", "rule " + r.id + ": description");
      r.pattern = toml_string(file, *rt, "pattern", "rule " + r.id + ": pattern");
      std::string anchor = toml_string(file, *rt, "anchor", "rule " + r.id + ": anchor");
      if (r.pattern.empty() && anchor.empty() && local) {
        std::vector<std::string> ids;
        for (const auto& x : rule_ids_)
          if (x.first != r.id) ids.push_back(x.first);
        throw ConfigError(
            file, id_line,
            "rule " + r.id +
                ": no rule has this id, so this is a new rule and needs a `pattern` or an "
                "`anchor`" +
                (config::nearest(r.id, ids).empty()
                     ? std::string()
                     : " (did you mean '" + config::nearest(r.id, ids) + "'?)"));
      }
      if (r.pattern.empty() == anchor.empty())
        throw ConfigError(file, line,
                          "rule " + r.id + " needs exactly one of `pattern` or `anchor`");
      if (std::size_t at = upper_case_at(r.pattern); at != std::string_view::npos)
        throw ConfigError(file, line_of(*rt->get("pattern")),
                          "rule " + r.id +
                              ": pattern has an upper-case letter; text is matched in lower case "
                              "(rules/README.md): write it in lower case");
      if (!anchor.empty()) {
        auto it = ref_index_.find(anchor);
        if (it == ref_index_.end()) {
          std::vector<std::string> names;
          for (const auto& x : ref_index_) names.push_back(x.first);
          std::string near = config::nearest(anchor, names);
          throw ConfigError(file, line_of(*rt->get("anchor")),
                            "rule " + r.id + ": unknown anchor '" + anchor + "'" +
                                (near.empty() ? "" : ": did you mean '" + near + "'?") +
                                " (a lexicon, a detector or a URL class)");
        }
        r.anchor_ref = it->second;
      }
      std::string view = toml_string(file, *rt, "view", "rule " + r.id + ": view", "text");
      if (view != "text" && view != "compact")
        throw ConfigError(
            file, line, "rule " + r.id + ": " + config::unknown("view", view, {"text", "compact"}));
      r.compact_view = view == "compact";
      if (r.compact_view && r.pattern.empty())
        throw ConfigError(file, line, "rule " + r.id + ": view = \"compact\" needs a pattern");
      r.validator = toml_string(file, *rt, "validator", "rule " + r.id + ": validator");
      if (!r.validator.empty() && !find_validator(r.validator))
        throw ConfigError(file, line,
                          "rule " + r.id + ": " +
                              config::unknown("validator", r.validator,
                                              {"upn", "nhs", "uln", "nino", "sort-account"}));
      r.with = conditions(file, rt->get("with"), "rule " + r.id + ": with");
      r.without = conditions(file, rt->get("without"), "rule " + r.id + ": without");
      r.without_before =
          conditions(file, rt->get("without_before"), "rule " + r.id + ": without_before");
      // The sentence layer: each entry is "a|b" (any of); every entry must hold in the unit.
      auto entries = [&](const char* key, auto parse, const char* what) {
        std::vector<std::vector<std::decay_t<decltype(*parse(std::string_view()))>>> out;
        for (const auto& e : strings(file, rt->get(key), "rule " + r.id + ": " + key)) {
          out.emplace_back();
          for (auto part : split(e, '|')) {
            auto k = parse(trim(part));
            if (!k)
              throw ConfigError(
                  file, line,
                  "rule " + r.id + ": unknown " + what + " '" + std::string(trim(part)) + "'");
            out.back().push_back(*k);
          }
        }
        return out;
      };
      auto flat = [](auto lists) {
        std::vector<typename decltype(lists)::value_type::value_type> out;
        for (auto& l : lists) out.insert(out.end(), l.begin(), l.end());
        return out;
      };
      r.targets = entries("target", parse_target, "target");
      r.stances = entries("stance", parse_stance, "stance");
      r.without_stance = flat(entries("without_stance", parse_stance, "stance"));
      r.without_target = flat(entries("without_target", parse_target, "target"));
      r.reach = static_cast<int>(
          toml_integer(file, *rt, "reach", "rule " + r.id + ": reach", 0, 0, 10000));
      if (r.reach > 0 && (r.targets.empty() || r.stances.empty()))
        throw ConfigError(file, line, "rule " + r.id + ": reach needs a target and a stance");
      if (const toml::node* w = rt->get("window")) {
        if (w->is_integer()) {
          r.window = WindowKind::chars;
          r.window_chars = static_cast<int>(
              toml_integer(file, *rt, "window", "rule " + r.id + ": window", 0, 1, 100000));
        } else {
          static const std::vector<std::string> kinds = {"sentence", "line", "paragraph",
                                                         "segment"};
          std::string ws = toml_string(file, *rt, "window",
                                       "rule " + r.id + ": window (or a number of characters)");
          if (ws == "sentence")
            r.window = WindowKind::sentence;
          else if (ws == "line")
            r.window = WindowKind::line;
          else if (ws == "paragraph")
            r.window = WindowKind::paragraph;
          else if (ws == "segment")
            r.window = WindowKind::segment;
          else
            throw ConfigError(
                file, line_of(*w),
                "rule " + r.id + ": " + config::unknown("window", ws, kinds) + " or a number");
        }
      }
      r.weight = toml_number(file, *rt, "weight", "rule " + r.id + ": weight", 1.0, 0, 100);
      r.credited_exempt =
          toml_bool(file, *rt, "credited_exempt", "rule " + r.id + ": credited_exempt", false);
      r.enabled = toml_bool(file, *rt, "enabled", "rule " + r.id + ": enabled", true);
      for (const auto& s : strings(file, rt->get("scope"), "scope")) {
        static const std::map<std::string, SegmentKind> kinds = {
            {"header", SegmentKind::header},
            {"body", SegmentKind::body},
            {"signature", SegmentKind::signature},
            {"links", SegmentKind::links},
            {"attachment", SegmentKind::attachment}};
        auto it = kinds.find(s);
        if (it == kinds.end())
          throw ConfigError(
              file, line,
              "rule " + r.id + ": " +
                  config::unknown("scope", s,
                                  {"header", "body", "signature", "links", "attachment"}));
        r.scope.push_back(it->second);
      }
      for (const auto& s : strings(file, rt->get("applies_to"), "applies_to")) {
        auto cls = parse_recipient_class(s);
        if (!cls)
          throw ConfigError(file, line, "rule " + r.id + ": unknown recipient class '" + s + "'");
        r.applies_to.push_back(*cls);
      }
      r.examples_match = strings(file, rt->get("match"), "match");
      r.examples_no_match = strings(file, rt->get("no_match"), "no_match");
      if (r.examples_match.empty())
        throw ConfigError(file, line, "rule " + r.id + " needs at least one `match` example");
      if (r.examples_no_match.empty())
        throw ConfigError(file, line, "rule " + r.id + " needs at least one `no_match` example");
      if (local) {
        r.local = file + ":" + std::to_string(line) + ": added";
        record(file, line, "rule " + r.id + " added");
      }
      rs_.rules_.push_back(std::move(r));
    }
  }

  // A local [[rule]] naming a rule that exists: only `enabled` and `weight` change.
  void override_rule(const std::string& file, const toml::table& rt, const std::string& id,
                     const std::string& defined_at) {
    const int line = line_of(rt);
    for (const auto& [k, v] : rt)
      if (k.str() != "id" && k.str() != "enabled" && k.str() != "weight" &&
          k.str() != "description")
        throw ConfigError(file, line_of(v),
                          "rule " + id + " exists (" + defined_at +
                              "): a local file may set only `enabled` and "
                              "`weight` for it, not `" +
                              std::string(k.str()) +
                              "` (to change more, disable it and add "
                              "your own rule under a new id)");
    if (!rt.get("enabled") && !rt.get("weight"))
      throw ConfigError(file, line,
                        "rule " + id + " exists (" + defined_at + "): set `enabled` or `weight`");
    Rule* r = nullptr;
    for (auto& x : rs_.rules_)
      if (x.id == id) r = &x;
    auto note = [&](std::string what) {
      r->local += (r->local.empty() ? "" : "; ") + file + ":" + std::to_string(line) + ": " + what;
      record(file, line, "rule " + id + " " + what);
    };
    if (rt.get("enabled")) {
      r->enabled = toml_bool(file, rt, "enabled", "rule " + id + ": enabled", true);
      note(r->enabled ? "enabled" : "disabled");
    }
    if (rt.get("weight")) {
      double old = r->weight;
      r->weight = toml_number(file, rt, "weight", "rule " + id + ": weight", 1.0, 0, 100);
      std::ostringstream w;
      w << "weight " << old << " -> " << r->weight;
      note(w.str());
    }
  }

  void load_names(const std::filesystem::path& dir) {
    auto load = [&](const char* name, std::vector<std::string>& into) {
      std::filesystem::path p = dir / name;
      std::error_code ec;
      if (!std::filesystem::exists(p, ec)) return;
      std::string content = read_file(p.string());
      hash_input_ += content;
      for (auto line : split(content, '\n')) {
        auto hash = line.find('#');
        if (hash != std::string_view::npos) line = line.substr(0, hash);
        line = trim(line);
        if (!line.empty()) into.push_back(to_lower_ascii(line));
      }
    };
    load("given-names.txt", rs_.given_names_);
    load("not-names.txt", rs_.name_stopwords_);
    std::sort(rs_.name_stopwords_.begin(), rs_.name_stopwords_.end());
  }

  RuleSet& rs_;
  std::map<std::string, int> ref_index_;
  struct Term {
    std::string text, origin;
    bool acronym = false;
  };
  std::map<int, std::vector<Term>> lexicon_terms_;
  std::map<std::string, std::string> rule_ids_;  // id -> "file:line" where it is defined
  std::set<int> inflected_;                      // lexicons with inflect = true
  std::set<int> masked_;                         // lexicons with masked = true
  std::string hash_input_;
};

RuleSet::RuleSet() = default;
RuleSet::~RuleSet() = default;

const CategoryDef* RuleSet::category(const std::string& id) const {
  for (const auto& c : categories_)
    if (c.id == id) return &c;
  return nullptr;
}

const Rule* RuleSet::rule(const std::string& id) const {
  for (const auto& r : rules_)
    if (r.id == id) return &r;
  return nullptr;
}

std::size_t RuleSet::pattern_count() const {
  return pattern_info_.size();
}

std::unique_ptr<RuleSet> RuleSet::load(const std::filesystem::path& dir,
                                       const std::vector<std::string>& official,
                                       const std::vector<std::string>& given_names_extra,
                                       const std::filesystem::path& cache_dir,
                                       const std::filesystem::path& local_dir,
                                       bool local_required) {
  // A warm start maps the rule set a previous load with the same inputs built (the TOML
  // parse, its checks and the lexicons' inflections were 60 % of a cached load).
  const std::string key =
      RuleSnapshot::key({dir, local_dir, cache_dir, local_required, official, given_names_extra});
  if (auto rs = RuleSnapshot::read(cache_dir, key)) return rs;
  std::unique_ptr<RuleSet> rs(new RuleSet());
  RuleLoader loader(*rs);
  loader.cache_dir_ = cache_dir;
  loader.load_dir(dir, local_dir, local_required);
  loader.finish(official, given_names_extra);
  RuleSnapshot::write(cache_dir, key, *rs, loader.patterns_);
  return rs;
}

}  // namespace pm
