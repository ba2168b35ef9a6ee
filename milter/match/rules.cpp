#include "match/rules.h"

#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "match/hs.h"
#include "match/psl.h"
#include "match/urls.h"
#include "sentence/stem.h"
#include "policy/validators.h"
#include "util/error.h"
#include "util/toml_read.h"
#include "util/strings.h"

namespace pm {

namespace {

// Detectors implemented in C++ (match/names.h) and URL classes (match/urls.h).
const char* const kDetectors[] = {"person-name", "people-list"};
const char* const kUrlClasses[] = {"url:official", "url:allow",   "url:social-profile",
                                   "url:social-content", "url:blog", "url:shortener",
                                   "url:other",    "url:any",  "url:sender-named"};

// Start of a URL in normalised text: a scheme, "www.", or a dot before a common TLD. The
// matcher expands each hint to the whole URL token (match/urls.cpp).
const char* const kUrlHint =
    R"((?:https?://|www\.|[a-z0-9]\.(?:com|org|net|uk|io|me|blog|info|ly|gl|gd|co|tv|app|site|online|xyz|page|dev|example|social|link|ee|to|edu|art|photo|photography|art|studio|design|live|life|club|space|website|tech)\b))";

int line_of(const toml::node& n) { return static_cast<int>(n.source().begin.line); }

}  // namespace

class RuleLoader {
 public:
  RuleLoader(RuleSet& rs) : rs_(rs) {
    for (const char* d : kDetectors) add_ref(RefKind::detector, d);
    rs_.refs_[0].target = static_cast<int>(Target::named);  // person-name: a named person
    for (const char* u : kUrlClasses) add_ref(RefKind::url_class, u);
  }

  void load_dir(const std::filesystem::path& dir) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
      throw ConfigError(dir.string(), 0, "rules directory not found");
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir))
      if (e.path().extension() == ".toml") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    if (files.empty()) throw ConfigError(dir.string(), 0, "no *.toml rule files");
    // Lexicons first: rules refer to them by name, whatever file they sit in.
    std::vector<std::pair<std::filesystem::path, toml::table>> parsed;
    for (const auto& f : files) {
      std::string content = read_file(f.string());
      hash_input_ += f.filename().string() + "\n" + content;
      try {
        parsed.emplace_back(f, toml::parse(content, f.string()));
      } catch (const toml::parse_error& e) {
        throw ConfigError(f.string(), static_cast<int>(e.source().begin.line),
                          std::string(e.description()));
      }
    }
    // An emptied file must not switch a category off unnoticed (issue 11): a rules file
    // that defines nothing is refused; a category is switched off only in [actions].
    for (auto& [f, t] : parsed)
      if (t.empty())
        throw ConfigError(f.string(), 1, "rules file defines nothing (no rule, category or lexicon): "
                          "refused; switch a category off in [actions] instead");
    for (auto& [f, t] : parsed) load_lexicons(f.string(), t);
    for (auto& [f, t] : parsed) load_urls(f.string(), t);
    for (auto& [f, t] : parsed) load_category_and_rules(f.string(), t);
    load_names(dir / "names");
  }

  void finish(const std::vector<std::string>& official, const std::vector<std::string>& extra_names) {
    for (const auto& o : official) rs_.urls_.official.push_back(to_lower_ascii(o));
    index_url_classes(rs_.urls_);
    for (const auto& n : extra_names) rs_.given_names_.push_back(to_lower_ascii(n));
    std::sort(rs_.given_names_.begin(), rs_.given_names_.end());
    rs_.given_names_.erase(std::unique(rs_.given_names_.begin(), rs_.given_names_.end()),
                           rs_.given_names_.end());
    for (const auto& r : rs_.rules_) {
      if (!rs_.category(r.category))
        throw ConfigError(r.file, r.line, "rule " + r.id + ": unknown category '" + r.category + "'");
    }
    for (const auto& c : rs_.categories_)
      if (std::none_of(rs_.rules_.begin(), rs_.rules_.end(), [&](const Rule& r) { return r.category == c.id; }))
        throw ConfigError(c.file, c.line, "category " + c.id + " has no rule: refused; switch it off in [actions] instead");
    // Patterns: rules' own, lexicon terms, the URL hint.
    std::vector<HsPattern> patterns;
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
        for (const auto& t : terms) {
          if (t.acronym != acronym) continue;
          parts.emplace_back(wrap_term(t.text), t.origin);
          merged += (merged.empty() ? "" : "|") + parts.back().first;
          if (origin.empty()) origin = t.origin;
        }
        if (merged.empty()) continue;
        // The sentence layer's cues need their starts too (how close a stance is to its
        // target, what --explain shows).
        const bool typed = rs_.refs_[ref].target >= 0 || rs_.refs_[ref].stance >= 0;
        patterns.push_back({merged, everywhere.count(ref) ? HsView::anchors : HsView::context, origin,
                            anchors.count(ref) > 0 || acronym || typed, acronym, std::move(parts)});
        rs_.pattern_info_.push_back({-1, ref, false, acronym});
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
      return std::isalnum(static_cast<unsigned char>(c)) || c == ')' || c == '?' || c == ']' || c == '+' ||
             c == '*' || c == '}';
    };
    std::string out;
    if (!term.empty() && starts_wordish()) out += "\\b";
    out += "(?:" + body + ")";
    if (!term.empty() && ends_wordish()) out += "\\b";
    return out;
  }

  void load_lexicons(const std::string& file, const toml::table& t) {
    const toml::table* lex = t["lexicons"].as_table();
    if (!lex) return;
    for (const auto& [name, node] : *lex) {
      const toml::table* lt = node.as_table();
      std::string n(name.str());
      if (!lt) throw ConfigError(file, line_of(node), "lexicon " + n + " must be a table");
      if (ref_index_.count(n))
        throw ConfigError(file, line_of(node), "lexicon '" + n + "' defined twice");
      int ref = add_ref(RefKind::lexicon, n);
      auto& terms = lexicon_terms_[ref];
      // `acronyms` are terms that count only when written in capitals: "SEND" is a need,
      // "send" a verb; "ADD" a diagnosis, "add me" an invitation.
      for (const char* key : {"terms", "acronyms"}) {
        const toml::node* list = lt->get(key);
        if (!list) continue;
        const toml::array* arr = list->as_array();
        if (!arr) throw ConfigError(file, line_of(*list), "lexicon " + n + ": `" + key + "` must be a list");
        for (const auto& term : *arr) {
          auto s = term.value<std::string>();
          if (!s || s->empty()) throw ConfigError(file, line_of(term), "lexicon term must be a non-empty string");
          bool acronym = std::string(key) == "acronyms";
          terms.push_back({acronym ? to_lower_ascii(*s) : *s, file + ":" + std::to_string(line_of(term)), acronym});
        }
      }
      if (terms.empty())
        throw ConfigError(file, line_of(node), "lexicon " + n + " needs a non-empty `terms` or `acronyms` list");
      static const std::set<std::string> known = {"terms", "acronyms", "description", "target", "stance", "detail", "inflect", "masked"};
      for (const auto& [k, v] : *lt)
        if (!known.count(std::string(k.str())))
          throw ConfigError(file, line_of(v), "unknown key '" + std::string(k.str()) + "' in lexicon " + n);
      // A typed lexicon is a cue of the sentence layer (sentence/reading.h).
      Ref& rf = rs_.refs_[ref];
      if (const toml::node* tn = lt->get("target")) {
        auto tk = parse_target(tn->value_or(std::string()));
        if (!tk) throw ConfigError(file, line_of(*tn), "lexicon " + n + ": unknown target '" + tn->value_or(std::string()) + "'");
        rf.target = static_cast<int>(*tk);
      }
      if (const toml::node* sn = lt->get("stance")) {
        auto sk = parse_stance(sn->value_or(std::string()));
        if (!sk) throw ConfigError(file, line_of(*sn), "lexicon " + n + ": unknown stance '" + sn->value_or(std::string()) + "'");
        rf.stance = static_cast<int>(*sk);
      }
      if (rf.target >= 0 && rf.stance >= 0)
        throw ConfigError(file, line_of(node), "lexicon " + n + ": a lexicon is a target or a stance, not both");
      rf.detail = (*lt)["detail"].value_or(std::string());
      // `inflect = true`: every plain word of a term (letters only, 4 or more) also
      // matches its inflections, generated with the Snowball stemmer (sentence/stem.h).
      if ((*lt)["inflect"].value_or(false))
        for (Term& t : terms)
          if (!t.acronym) t.text = inflect_term(t.text);
      // `masked = true`: a slur also matches split or softened ("p.i.k.e.y", "ret*rd").
      if ((*lt)["masked"].value_or(false))
        for (Term& t : terms)
          if (!t.acronym) t.text = mask_term(t.text);
    }
  }

  // "pikey" -> "p[.*_-]?(?:i|\*)[.*_-]?(?:k|\*)[.*_-]?(?:e|\*)[.*_-]?y": every plain word of
  // four letters or more may have a separator between its letters and any letter but its
  // first and last written as "*". Terms with regular-expression syntax are kept as written.
  static std::string mask_term(const std::string& term) {
    for (char c : term)
      if (!((c >= 'a' && c <= 'z') || c == ' ')) return term;
    std::string out;
    for (auto word : split(term, ' ')) {
      if (!out.empty()) out += ' ';
      if (word.size() < 4) {
        out += std::string(word);
        continue;
      }
      for (std::size_t i = 0; i < word.size(); ++i) {
        if (i > 0) out += "[.*_-]?";
        if (i == 0 || i + 1 == word.size())
          out += word[i];
        else
          out += std::string("(?:") + word[i] + "|\\*)";
      }
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
      bool plain = word.size() >= 4 && word.find_first_not_of("abcdefghijklmnopqrstuvwxyz") == std::string_view::npos;
      std::vector<std::string> forms = plain ? inflections(word) : std::vector<std::string>{std::string(word)};
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

  void load_urls(const std::string& file, const toml::table& t) {
    const toml::table* u = t["urls"].as_table();
    if (!u) return;
    auto add = [&](const char* key, std::vector<std::string>& into) {
      for (auto& s : strings(file, u->get(key), std::string("urls.") + key)) into.push_back(to_lower_ascii(s));
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
            throw ConfigError(file, line_of(e),
                              "urls.allow: '" + entry + "' is a public suffix anyone can register under (Public Suffix "
                              "List): list the sites themselves, or mark a restricted-registration suffix in "
                              "urls.restricted_suffixes");
          rs_.restricted_allowed_.push_back(host);
        }
    for (const auto& [k, v] : *u) {
      static const std::set<std::string> known = {"allow", "social", "social_content", "blog",
                                                  "shortener", "official", "description", "restricted_suffixes"};
      if (!known.count(std::string(k.str())))
        throw ConfigError(file, line_of(v), "unknown key '" + std::string(k.str()) + "' in [urls]");
    }
  }

  std::vector<Condition> conditions(const std::string& file, const toml::node* node, const std::string& what) {
    std::vector<Condition> out;
    if (!node) return out;
    for (const auto& s : strings(file, node, what)) {
      Condition c;
      c.text = s;
      for (auto part : split(s, '|')) {
        std::string name(trim(part));
        auto it = ref_index_.find(name);
        if (it == ref_index_.end())
          throw ConfigError(file, line_of(*node), what + ": unknown lexicon, detector or URL class '" + name + "'");
        c.refs.push_back(it->second);
      }
      out.push_back(std::move(c));
    }
    return out;
  }

  void load_category_and_rules(const std::string& file, const toml::table& t) {
    std::string default_category, default_clause;
    if (const toml::table* c = t["category"].as_table()) {
      CategoryDef def;
      def.file = file;
      def.line = line_of(*c);
      def.id = c->get("id") ? c->get("id")->value_or(std::string()) : std::string();
      def.clause = c->get("clause") ? c->get("clause")->value_or(std::string()) : std::string();
      if (def.id.empty()) throw ConfigError(file, def.line, "[category] needs an id");
      if (rs_.category(def.id)) throw ConfigError(file, def.line, "category '" + def.id + "' defined twice");
      for (const auto& s : strings(file, c->get("applies_to"), "applies_to")) {
        auto cls = parse_recipient_class(s);
        if (!cls) throw ConfigError(file, line_of(*c->get("applies_to")), "unknown recipient class '" + s + "'");
        def.applies_to.push_back(*cls);
      }
      if (def.applies_to.empty()) throw ConfigError(file, def.line, "category " + def.id + " needs applies_to");
      def.threshold = (*c)["threshold"].value_or(1.0);
      def.own_words = (*c)["own_words"].value_or(false);
      for (const auto& r : strings(file, c->get("roles"), "roles")) {
        static const std::set<std::string> roles = {"pupil", "parent", "business", "partner", "staff", "unknown"};
        if (!roles.count(r)) throw ConfigError(file, line_of(*c->get("roles")), "unknown recipient role '" + r + "'");
        def.roles.push_back(r);
      }
      default_category = def.id;
      default_clause = def.clause;
      rs_.categories_.push_back(std::move(def));
    }
    const toml::array* rules = t["rule"].as_array();
    if (!rules) return;
    static const std::set<std::string> known = {
        "id", "category", "clause", "pattern", "anchor", "view", "validator", "with", "without",
        "window", "weight", "scope", "match", "no_match", "description", "applies_to", "without_before", "credited_exempt",
        "target", "stance", "without_stance", "without_target", "reach"};
    for (const auto& node : *rules) {
      const toml::table* rt = node.as_table();
      int line = line_of(node);
      if (!rt) throw ConfigError(file, line, "[[rule]] must be a table");
      for (const auto& [k, v] : *rt)
        if (!known.count(std::string(k.str())))
          throw ConfigError(file, line_of(v), "unknown key '" + std::string(k.str()) + "' in rule");
      Rule r;
      r.file = file;
      r.line = line;
      r.id = (*rt)["id"].value_or(std::string());
      if (r.id.empty()) throw ConfigError(file, line, "rule without an id");
      if (!rule_ids_.insert(r.id).second) throw ConfigError(file, line, "rule id '" + r.id + "' used twice");
      r.category = (*rt)["category"].value_or(default_category);
      r.clause = (*rt)["clause"].value_or(default_clause);
      if (r.category.empty()) throw ConfigError(file, line, "rule " + r.id + " has no category");
      r.pattern = (*rt)["pattern"].value_or(std::string());
      std::string anchor = (*rt)["anchor"].value_or(std::string());
      if (r.pattern.empty() == anchor.empty())
        throw ConfigError(file, line, "rule " + r.id + " needs exactly one of `pattern` or `anchor`");
      if (!anchor.empty()) {
        auto it = ref_index_.find(anchor);
        if (it == ref_index_.end())
          throw ConfigError(file, line, "rule " + r.id + ": unknown anchor '" + anchor + "'");
        r.anchor_ref = it->second;
      }
      std::string view = (*rt)["view"].value_or(std::string("text"));
      if (view != "text" && view != "compact")
        throw ConfigError(file, line, "rule " + r.id + ": view must be \"text\" or \"compact\"");
      r.compact_view = view == "compact";
      if (r.compact_view && r.pattern.empty())
        throw ConfigError(file, line, "rule " + r.id + ": view = \"compact\" needs a pattern");
      r.validator = (*rt)["validator"].value_or(std::string());
      if (!r.validator.empty() && !find_validator(r.validator))
        throw ConfigError(file, line, "rule " + r.id + ": unknown validator '" + r.validator + "'");
      r.with = conditions(file, rt->get("with"), "rule " + r.id + ": with");
      r.without = conditions(file, rt->get("without"), "rule " + r.id + ": without");
      r.without_before = conditions(file, rt->get("without_before"), "rule " + r.id + ": without_before");
      // The sentence layer: each entry is "a|b" (any of); every entry must hold in the unit.
      auto entries = [&](const char* key, auto parse, const char* what) {
        std::vector<std::vector<std::decay_t<decltype(*parse(std::string_view()))>>> out;
        for (const auto& e : strings(file, rt->get(key), "rule " + r.id + ": " + key)) {
          out.emplace_back();
          for (auto part : split(e, '|')) {
            auto k = parse(trim(part));
            if (!k)
              throw ConfigError(file, line, "rule " + r.id + ": unknown " + what + " '" + std::string(trim(part)) + "'");
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
      r.reach = static_cast<int>((*rt)["reach"].value_or(int64_t{0}));
      if (r.reach < 0 || (r.reach > 0 && (r.targets.empty() || r.stances.empty())))
        throw ConfigError(file, line, "rule " + r.id + ": reach needs a target and a stance and must be positive");
      if (const toml::node* w = rt->get("window")) {
        if (auto n = w->value<int64_t>()) {
          r.window = WindowKind::chars;
          r.window_chars = static_cast<int>(*n);
        } else {
          std::string ws = w->value_or(std::string());
          if (ws == "sentence") r.window = WindowKind::sentence;
          else if (ws == "line") r.window = WindowKind::line;
          else if (ws == "paragraph") r.window = WindowKind::paragraph;
          else if (ws == "segment") r.window = WindowKind::segment;
          else throw ConfigError(file, line_of(*w), "rule " + r.id + ": window must be sentence, line, paragraph, segment or a number");
        }
      }
      r.weight = (*rt)["weight"].value_or(1.0);
      r.credited_exempt = (*rt)["credited_exempt"].value_or(false);
      for (const auto& s : strings(file, rt->get("scope"), "scope")) {
        static const std::map<std::string, SegmentKind> kinds = {
            {"header", SegmentKind::header}, {"body", SegmentKind::body},
            {"signature", SegmentKind::signature}, {"links", SegmentKind::links},
            {"attachment", SegmentKind::attachment}};
        auto it = kinds.find(s);
        if (it == kinds.end()) throw ConfigError(file, line, "rule " + r.id + ": unknown scope '" + s + "'");
        r.scope.push_back(it->second);
      }
      for (const auto& s : strings(file, rt->get("applies_to"), "applies_to")) {
        auto cls = parse_recipient_class(s);
        if (!cls) throw ConfigError(file, line, "rule " + r.id + ": unknown recipient class '" + s + "'");
        r.applies_to.push_back(*cls);
      }
      r.examples_match = strings(file, rt->get("match"), "match");
      r.examples_no_match = strings(file, rt->get("no_match"), "no_match");
      if (r.examples_match.empty())
        throw ConfigError(file, line, "rule " + r.id + " needs at least one `match` example");
      if (r.examples_no_match.empty())
        throw ConfigError(file, line, "rule " + r.id + " needs at least one `no_match` example");
      rs_.rules_.push_back(std::move(r));
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
  std::set<std::string> rule_ids_;
  std::string hash_input_;
};

RuleSet::RuleSet() = default;
RuleSet::~RuleSet() = default;

const CategoryDef* RuleSet::category(const std::string& id) const {
  for (const auto& c : categories_)
    if (c.id == id) return &c;
  return nullptr;
}

std::size_t RuleSet::pattern_count() const { return pattern_info_.size(); }

std::unique_ptr<RuleSet> RuleSet::load(const std::filesystem::path& dir,
                                       const std::vector<std::string>& official,
                                       const std::vector<std::string>& given_names_extra,
                                       const std::filesystem::path& cache_dir) {
  std::unique_ptr<RuleSet> rs(new RuleSet());
  RuleLoader loader(*rs);
  loader.cache_dir_ = cache_dir;
  loader.load_dir(dir);
  loader.finish(official, given_names_extra);
  return rs;
}

}  // namespace pm
