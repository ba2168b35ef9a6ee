#include "match/matcher.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "match/hs.h"
#include "match/normalize.h"
#include "match/urls.h"
#include "policy/validators.h"
#include "sentence/reading.h"
#include "sentence/units.h"

namespace pm {

namespace {

using Span = std::pair<std::size_t, std::size_t>;  // half-open, normalised text

// The longest unit (sentence, row, item) the sentence layer reads whole; see read().
constexpr std::size_t kMaxUnitBytes = 2048;
// The most persons one finding records for the parent-contacts check; see scan_segment().
constexpr std::size_t kMaxPersonsPerHit = 32;
// The most findings of one rule in one segment: a 30 MB class list has a finding on every
// row, and past a few hundred more evidence changes no verdict, only memory and time.
constexpr std::size_t kMaxHitsPerRule = 256;

Span window_of(const std::vector<std::size_t>& breaks, Span anchor, std::size_t n) {
  return unit_of(breaks, anchor, n);
}

// Spans of one lexicon, detector or URL class in a segment, sorted by start. The longest
// span bounds how far before a window a span that reaches into it can start, so a lookup
// is a binary search, not a walk (a 4 MB spreadsheet has tens of thousands of spans).
// A lexicon hit's start is approximate (its end less the lexicon's shortest term: finding
// the exact start costs a small scan per hit); `ids` keeps each span's pattern so the exact
// start can be found for the few spans that need it - a finding's evidence, the cues of a
// unit the sentence layer reads.
constexpr unsigned kNoPattern = ~0u;
struct SpanList {
  std::vector<Span> v;
  std::vector<unsigned> ids;  // parallel to v after seal(); kNoPattern: exact already
  std::size_t max_len = 0;
  void push(Span s, unsigned id = kNoPattern) {
    v.push_back(s);
    ids.push_back(id);
  }
  void seal() {
    ids.resize(v.size(), kNoPattern);  // spans assigned directly (v = ...) carry no pattern
    max_len = 0;
    if (std::is_sorted(v.begin(), v.end())) {  // the usual case: hits arrive in order
      for (const Span& s : v) max_len = std::max(max_len, s.second - s.first);
      return;
    }
    if (std::all_of(ids.begin(), ids.end(), [](unsigned id) { return id == kNoPattern; })) {
      std::sort(v.begin(), v.end());
      for (const Span& s : v) max_len = std::max(max_len, s.second - s.first);
      return;
    }
    std::vector<std::size_t> order(v.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
    std::vector<Span> sv;
    std::vector<unsigned> si;
    sv.reserve(v.size());
    si.reserve(v.size());
    for (std::size_t i : order) {
      sv.push_back(v[i]);
      si.push_back(ids[i]);
    }
    v.swap(sv);
    ids.swap(si);
    for (const Span& s : v) max_len = std::max(max_len, s.second - s.first);
  }
  unsigned id_of(Span s) const {
    auto it = std::lower_bound(v.begin(), v.end(), s);
    return it != v.end() && *it == s ? ids[static_cast<std::size_t>(it - v.begin())] : kNoPattern;
  }
};

// Is `target` the subject of which `stance` is predicated, across a parenthesis: "The head,
// on the other hand, is a hysterical old bag"? The stance follows a copula ("is", "was",
// "'s", "are") within a few words, the subject comes before it in the same sentence, and
// no other target stands between them.
bool copular_subject(std::string_view text, Span target, Span stance,
                     const std::vector<Found>& targets) {
  if (target.second > stance.first || stance.first - target.second > 90) return false;
  std::string_view gap = text.substr(target.second, stance.first - target.second);
  std::size_t cop = std::string_view::npos, cop_end = 0;
  for (std::string_view c : {" is ", " was ", " are ", " were ", "'s ", "'re "}) {
    std::size_t p = gap.rfind(c);
    if (p != std::string_view::npos && (cop == std::string_view::npos || p > cop)) {
      cop = p;
      cop_end = p + c.size();
    }
  }
  if (cop == std::string_view::npos || gap.size() - cop_end > 30) return false;
  if (clause_break(gap, cop_end, gap.size())) return false;
  if (gap.find_first_of(".!?") != std::string_view::npos) return false;
  for (const Found& o : targets)
    if (o.span.first >= target.second && o.span.second <= stance.first &&
        o.kind != static_cast<int>(Target::sender))
      return false;
  return true;
}

// Is the identifier at [from, to) the tail or head of a UK telephone number written with
// spaces ("0 7 7 0 0  9 0 0  5 5 8" holds a ten-digit run that can pass the NHS check)? The
// digit run is extended over separators (up to three spaces or dashes); eleven digits from
// a leading 0, or twelve from 44, is a telephone number, not a patient or learner number.
bool part_of_phone_number(std::string_view t, std::size_t from, std::size_t to) {
  auto digit = [&](std::size_t i) { return t[i] >= '0' && t[i] <= '9'; };
  // At most four more digits on either side: a telephone number has at most 13, and a run of
  // thousands of spaced digits (hostile input) must not be walked once per match.
  constexpr int kMore = 4;
  // The run's edge one way (step -1: before `at`, +1: from `at`), or npos past kMore digits.
  auto edge = [&](std::size_t at, int step) {
    for (int more = 0;; ++more) {
      std::size_t i = at, seps = 0;
      auto next = [&] {
        return step < 0 ? (i > 0 ? t[i - 1] : '\0') : (i < t.size() ? t[i] : '\0');
      };
      while ((next() == ' ' || next() == '-') && seps < 3) i += step, ++seps;
      const char c = next();
      if (c < '0' || c > '9') return at;
      if (more == kMore) return std::string_view::npos;
      at = step < 0 ? i - 1 : i + 1;
    }
  };
  const std::size_t b = edge(from, -1), e = edge(to, +1);
  if (b == std::string_view::npos || e == std::string_view::npos) return false;
  if (b == from && e == to) return false;
  std::string digits;
  for (std::size_t i = b; i < e; ++i)
    if (digit(i)) digits += t[i];
  if (b > 0 && t[b - 1] == '+') digits.insert(0, "+");
  return (digits.size() == 11 && digits[0] == '0') ||
         (digits.size() == 13 && digits.starts_with("+44")) ||
         (digits.size() == 12 && digits.starts_with("44"));
}

// Does `t` go on at `at` with a space and one of `words`, as a whole word ("the school"
// + " gate", not " gateway")? Words may be several ("car park").
bool followed_by_word(std::string_view t, std::size_t at, const std::vector<std::string>& words) {
  if (at >= t.size() || t[at] != ' ') return false;
  std::string_view rest = t.substr(at + 1);
  for (const std::string& w : words)
    if (rest.starts_with(w) &&
        (rest.size() == w.size() || !std::isalnum(static_cast<unsigned char>(rest[w.size()]))))
      return true;
  return false;
}

// Does any span of `l` other than `anchor` intersect the window `w` (and pass `also`)?
template <class Pred>
bool any_in(const SpanList& l, Span w, Span anchor, Pred also) {
  std::size_t from = w.first > l.max_len ? w.first - l.max_len : 0;
  auto it = std::lower_bound(l.v.begin(), l.v.end(), Span{from, 0});
  for (; it != l.v.end() && it->first < w.second; ++it)
    if (it->second > w.first && *it != anchor && also(*it)) return true;
  return false;
}
bool any_in(const SpanList& l, Span w, Span anchor) {
  return any_in(l, w, anchor, [](Span) { return true; });
}

// Where the text stops being the sender's own words: quoted reply lines ("> ...") and
// everything after a reply or forward attribution ("On 3 May, Jo wrote:", "-----Original
// Message-----", an Outlook "From: ... Sent: ..." block). Returned as spans of `t`.
// Does the attribution line name the sender ("On 20 Nov, Aoife Brennan wrote:")? The
// sender's first and last name run together (name_parts: the parts without "=").
bool names_sender(std::string_view line, const std::vector<std::string>* sender_names) {
  if (!sender_names) return false;
  std::string squashed;
  for (char c : line)
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) squashed += c;
  for (const std::string& n : *sender_names)
    if (!n.starts_with('=') && squashed.find(n) != std::string::npos) return true;
  return false;
}

std::vector<Span> quoted_spans(std::string_view t, const std::vector<std::string>* sender_names) {
  std::vector<Span> out;
  std::size_t ls = 0;
  // The quotation depth whose lines are the sender's own earlier words: the block under an
  // attribution that names the sender ("> On 20 Nov, Aoife Brennan wrote:" above ">> ...").
  int own_depth = -1, own_from = -1;
  bool rest_quoted = false;  // after a top-level attribution by someone else
  while (ls < t.size()) {
    std::size_t le = t.find('\n', ls);
    if (le == std::string_view::npos) le = t.size();
    std::string_view line = t.substr(ls, le - ls);
    std::size_t p = line.find_first_not_of(' ');
    std::string_view body = p == std::string_view::npos ? std::string_view() : line.substr(p);
    int depth = 0;
    std::string_view inner = body;
    while (!inner.empty() && (inner.front() == '>' || inner.front() == ' ')) {
      depth += inner.front() == '>';
      inner.remove_prefix(1);
    }
    bool rest = inner.ends_with("wrote:") || inner.ends_with("a écrit :") ||
                inner.find("original message") != std::string_view::npos ||
                inner.find("forwarded message") != std::string_view::npos ||
                inner.starts_with("begin forwarded message");
    if (!rest && depth == 0 && body.starts_with("from:")) {
      // An Outlook header block: From: then Sent:/Date: within the next lines.
      std::size_t look = le;
      for (int k = 0; k < 3 && look < t.size(); ++k) {
        std::size_t ne = t.find('\n', look + 1);
        if (ne == std::string_view::npos) ne = t.size();
        std::string_view nl = t.substr(look + 1, ne - look - 1);
        if (nl.starts_with("sent:") || nl.starts_with("date:")) rest = true;
        look = ne;
      }
    }
    if (rest && names_sender(inner, sender_names)) {
      // The sender quoting themselves: the block under it is their own - at the depth of the
      // first line that follows (clients put it one deeper, or at the attribution's own).
      own_from = depth;
      own_depth = -1;
    } else if (rest && depth == 0) {
      rest_quoted = true;
    } else if (rest && depth <= own_depth) {
      own_depth = -1;
    } else if (own_from >= 0 && !inner.empty()) {
      if (depth >= own_from) own_depth = depth;
      own_from = -1;
    }
    if (rest_quoted) {
      out.push_back({ls, t.size()});
      return out;
    }
    if (depth > 0 && depth != own_depth) out.push_back({ls, le});
    ls = le + 1;
  }
  return out;
}

bool looks_like_list(std::string_view t) {
  int rows = 0;
  std::size_t ls = 0;
  while (ls < t.size() && rows < 3) {
    std::size_t le = t.find('\n', ls);
    if (le == std::string_view::npos) le = t.size();
    std::string_view line = t.substr(ls, le - ls);
    if (line.size() < 300) {
      int digits = 0;
      bool sep = false;
      for (char c : line) {
        digits += c >= '0' && c <= '9';
        sep |= c == '\t' || c == ',' || c == '|' || c == ';';
      }
      sep |= line.find(" - ") != std::string_view::npos;
      if (sep || digits >= 4) ++rows;
    }
    ls = le + 1;
  }
  return rows >= 3;
}

// An acronym term counts when its first word is written in capitals ("CP plan") in a
// line that is not itself all capitals ("HI AMELIA!!!" is a greeting, not a need).
bool acronym_in_source(std::string_view src, std::size_t s, std::size_t e) {
  bool letter = false;
  for (std::size_t k = s; k < e; ++k) {
    char c = src[k];
    if (c == ' ' || c == '\n' || c == '\t') break;
    if (c >= 'a' && c <= 'z') return false;
    letter |= c >= 'A' && c <= 'Z';
  }
  if (!letter) return false;
  std::size_t ls = src.rfind('\n', s);
  ls = ls == std::string_view::npos ? 0 : ls + 1;
  std::size_t le = src.find('\n', e);
  if (le == std::string_view::npos) le = src.size();
  ls = std::max(ls, s > 300 ? s - 300 : 0);
  le = std::min(le, e + 300);
  for (std::size_t k = ls; k < le; ++k)
    if (src[k] >= 'a' && src[k] <= 'z') return true;
  return false;
}

}  // namespace

Matcher::Matcher(const RuleSet& rules, NameLexicon names)
    : rules_(rules), names_(std::move(names)) {
  const auto& refs = rules_.refs();
  auto find = [&](std::string_view n) {
    for (std::size_t i = 0; i < refs.size(); ++i)
      if (refs[i].name == n) return static_cast<int>(i);
    return -1;
  };
  ref_person_ = find("person-name");
  ref_people_list_ = find("people-list");
  ref_list_detail_ = find("list-detail");
  for (UrlClass c :
       {UrlClass::official, UrlClass::allow, UrlClass::social_profile, UrlClass::social_content,
        UrlClass::blog, UrlClass::shortener, UrlClass::other})
    url_refs_.push_back(find(to_string(c)));
  url_refs_.push_back(find("url:any"));
  ref_sender_named_ = find("url:sender-named");
  for (const Rule& r : rules_.rules()) {
    const CategoryDef* c = rules_.category(r.category);
    own_words_.push_back(c && c->own_words);
    bool names = r.anchor_ref == ref_person_ || r.anchor_ref == ref_people_list_;
    for (const auto* conds : {&r.with, &r.without, &r.without_before})
      for (const Condition& cond : *conds)
        for (int ref : cond.refs) names |= ref == ref_person_ || ref == ref_people_list_;
    names |= !r.targets.empty();  // a named person is a target
    uses_names_.push_back(names);
  }
  for (std::size_t i = 0; i < refs.size(); ++i)
    if (refs[i].target >= 0 || refs[i].stance >= 0) typed_refs_.push_back(static_cast<int>(i));
  anchors_ref_.assign(rules_.refs().size(), false);
  for (const Rule& r : rules_.rules())
    if (r.anchor_ref >= 0) anchors_ref_[r.anchor_ref] = true;
  exact_ref_ = anchors_ref_;
  for (int ref : typed_refs_) exact_ref_[ref] = true;
  // A typed lexicon that anchors only sentence-layer rules: its hits are located by their
  // end until a rule fires or its unit is read (most hits of common words never are).
  lazy_ref_.assign(refs.size(), false);
  for (int ref : typed_refs_) lazy_ref_[ref] = anchors_ref_[ref];
  for (const Rule& r : rules_.rules())
    if (r.anchor_ref >= 0 && !r.reads_sentence()) lazy_ref_[r.anchor_ref] = false;
}

void Matcher::scan_segment(const Segment& seg, std::size_t seg_index, std::vector<RuleHit>& out,
                           int only_rule, const SegmentContext& ctx) const {
  const std::vector<std::string>* sender_names = ctx.sender_names;
  if (seg.text.empty()) return;
  const auto& rules = rules_.rules();
  const auto& info = rules_.pattern_info();
  NormText norm = normalize(seg.text);
  if (norm.text.empty()) return;
  const std::size_t n = norm.text.size();

  std::vector<SpanList> ref_spans(rules_.refs().size());
  std::vector<std::vector<Span>> rule_anchors(rules.size());
  std::vector<std::size_t> url_hints;
  const HsDatabases& dbs = rules_.databases();
  std::vector<HsHit*> refine;
  auto take = [&](std::vector<HsHit>& hits) {
    // Rule patterns and anchors get their exact start now (a validator checks the bytes;
    // windows and evidence start there); the sentence layer's context cues keep an
    // approximate one until a reading needs it.
    refine.clear();
    for (HsHit& h : hits) {
      const auto& pi = info[h.id];
      if (!pi.url &&
          (pi.rule >= 0 || (pi.lexicon >= 0 && anchors_ref_[pi.lexicon] && !lazy_ref_[pi.lexicon])))
        refine.push_back(&h);
    }
    dbs.exact_starts(norm.text, refine);
    for (HsHit& h : hits) {
      const auto& pi = info[h.id];
      if (pi.url) {
        url_hints.push_back(h.from);
      } else if (pi.lexicon >= 0) {
        if (pi.acronym) {
          auto [s, e] = norm.source_range(h.from, h.to, seg.text);
          if (!acronym_in_source(seg.text, s, e)) continue;
        }
        // "the school gate": a target lexicon's hit followed by a word it names is not it.
        if (!rules_.refs()[pi.lexicon].not_before.empty() &&
            followed_by_word(norm.text, h.to, rules_.refs()[pi.lexicon].not_before))
          continue;
        const bool pending = exact_ref_[pi.lexicon] &&
                             (!anchors_ref_[pi.lexicon] || lazy_ref_[pi.lexicon]) && !pi.acronym;
        ref_spans[pi.lexicon].push({h.from, h.to}, pending ? h.id : kNoPattern);
      } else if (pi.rule >= 0 && (only_rule < 0 || pi.rule == only_rule)) {
        const Rule& r = rules[pi.rule];
        if (!r.validator.empty() &&
            (!find_validator(r.validator)(
                 std::string_view(norm.text).substr(h.from, h.to - h.from)) ||
             part_of_phone_number(norm.text, h.from, h.to)))
          continue;
        rule_anchors[pi.rule].push_back({h.from, h.to});
      }
    }
  };
  std::vector<HsHit> hits;
  dbs.scan(HsView::anchors, norm.text, hits);
  take(hits);
  // Identifier rules on the digits-compacted view; anchors mapped back to `norm`.
  // Identifiers need digits: a segment without any is not scanned a second time.
  if (dbs.has(HsView::compact) && norm.text.find_first_of("0123456789") != std::string::npos) {
    NormText compact = compact_digits(norm);
    std::vector<HsHit> chits;
    dbs.scan(HsView::compact, compact.text, chits);
    refine.clear();
    for (HsHit& h : chits) {
      int ri = info[h.id].rule;
      if (ri >= 0 && (only_rule < 0 || ri == only_rule)) refine.push_back(&h);
    }
    dbs.exact_starts(compact.text, refine);
    for (HsHit& h : chits) {
      int ri = info[h.id].rule;
      if (ri < 0 || (only_rule >= 0 && ri != only_rule)) continue;
      const Rule& r = rules[ri];
      if (!r.validator.empty() &&
          (!find_validator(r.validator)(
               std::string_view(compact.text).substr(h.from, h.to - h.from)) ||
           part_of_phone_number(compact.text, h.from, h.to)))
        continue;
      rule_anchors[ri].push_back({compact.to_orig[h.from], compact.to_orig[h.to - 1] + 1});
    }
  }
  // URLs.
  if (!url_hints.empty()) {
    for (const UrlSpan& u : expand_urls(norm.text, url_hints, rules_.urls())) {
      int ref = url_refs_[static_cast<int>(u.cls)];
      if (ref >= 0) ref_spans[ref].push({u.start, u.end});
      if (url_refs_.back() >= 0) ref_spans[url_refs_.back()].push({u.start, u.end});
      if (sender_names && ref_sender_named_ >= 0 && u.cls != UrlClass::official &&
          u.cls != UrlClass::allow) {
        // The host (less its public suffix) or, on a platform or a shortener (a custom alias:
        // "tinyurl.com/mrrendell-reads"), the path's first segment.
        std::string where = u.host.substr(0, u.host.rfind('.'));
        if (u.cls != UrlClass::other) where += "/" + u.path.substr(0, u.path.find('/'));
        auto word_in = [&](std::string_view w) {
          // A whole word of the host or path: between separators ('.', '-', '_', '/', '@').
          for (std::size_t p = where.find(w); p != std::string::npos; p = where.find(w, p + 1)) {
            auto sep = [](char c) {
              return c == '.' || c == '-' || c == '_' || c == '/' || c == '@';
            };
            // A title run into the name ("mrrendell", "missjones") still starts the word.
            auto titled = [&]() {
              for (std::string_view t : {"mr", "mrs", "ms", "miss", "dr", "sir"})
                if (p >= t.size() && where.compare(p - t.size(), t.size(), t) == 0 &&
                    (p == t.size() || sep(where[p - t.size() - 1])))
                  return true;
              return false;
            };
            bool l = p == 0 || sep(where[p - 1]) || titled(),
                 r = p + w.size() == where.size() || sep(where[p + w.size()]);
            if (l && r) return true;
          }
          return false;
        };
        for (const auto& name : *sender_names)
          if (name.starts_with('=') ? word_in(std::string_view(name).substr(1))
                                    : where.find(name) != std::string::npos) {
            ref_spans[ref_sender_named_].push({u.start, u.end});
            break;
          }
      }
    }
  }
  // Nothing that could start a finding: the rest of the pass has nothing to do.
  const bool listy = ref_people_list_ >= 0 && looks_like_list(norm.text);
  bool any_anchor = listy;
  for (std::size_t ri = 0; ri < rules.size() && !any_anchor; ++ri) {
    const Rule& r = rules[ri];
    if (r.anchor_ref == ref_people_list_) continue;  // decided by `listy`
    any_anchor = r.anchor_ref >= 0 ? !ref_spans[r.anchor_ref].v.empty() : !rule_anchors[ri].empty();
  }
  if (!any_anchor) return;
  Breaks breaks = compute_breaks(norm.text);
  // The window of rule `r` around anchor `a` (the same one its conditions are checked in).
  auto window = [&](const Rule& r, Span a) -> Span {
    WindowKind wk = r.window;
    if (seg.kind == SegmentKind::header &&
        (wk == WindowKind::paragraph || wk == WindowKind::segment))
      wk = WindowKind::line;  // headers are one item per line
    switch (wk) {
      case WindowKind::sentence:
        return window_of(breaks.sentence, a, n);
      case WindowKind::line:
        return window_of(breaks.line, a, n);
      case WindowKind::paragraph:
        return window_of(breaks.paragraph, a, n);
      case WindowKind::segment:
        return {0, n};
      case WindowKind::chars:
        return {a.first > static_cast<std::size_t>(r.window_chars) ? a.first - r.window_chars : 0,
                std::min(n, a.second + r.window_chars)};
    }
    return {0, n};
  };
  // Context lexicons are scanned only inside the windows of anchors whose rules have
  // conditions: text with no anchor - most of any newsletter - is never scanned for
  // context. Windows are merged and snapped to white space so no word is cut.
  if (dbs.has(HsView::context)) {
    std::vector<Span> regions;
    // Text shaped like a list or table (three short lines with a tab, comma, bar or
    // " - ", or with four digits) may be a list of people: the people-list detector reads
    // list-detail on every line of it.
    if (listy) regions.push_back({0, n});
    for (std::size_t ri = 0; ri < rules.size(); ++ri) {
      const Rule& r = rules[ri];
      if (only_rule >= 0 && static_cast<int>(ri) != only_rule) continue;
      if (r.with.empty() && r.without.empty() && r.without_before.empty() && !r.reads_sentence())
        continue;
      const std::vector<Span>& anchors =
          r.anchor_ref >= 0 ? ref_spans[r.anchor_ref].v : rule_anchors[ri];
      for (const Span& a : anchors) {
        Span w = window(r, a);
        // The sentence layer reads the unit before too (a group it names is what "they" means).
        // (only the sentence before, in the same paragraph: what read() looks at).
        if (r.reads_sentence()) {
          Span unit =
              window_of(seg.kind == SegmentKind::header ? breaks.line : breaks.sentence, a, n);
          std::size_t from = unit.first;
          if (unit.first > 0 && seg.kind != SegmentKind::header) {
            Span p = window_of(breaks.sentence, {unit.first - 1, unit.first}, n);
            if (window_of(breaks.paragraph, {p.first, p.first + 1}, n) ==
                window_of(breaks.paragraph, a, n))
              from = p.first;
          }
          w = {std::min(w.first, from), w.second};
        }
        w.first = std::max(w.first, a.first > 2000 ? a.first - 2000 : 0);
        w.second = std::min(w.second, a.second + 2000);
        while (w.first > 0 && norm.text[w.first - 1] != ' ' && norm.text[w.first - 1] != '\n')
          --w.first;
        while (w.second < n && norm.text[w.second] != ' ' && norm.text[w.second] != '\n')
          ++w.second;
        regions.push_back(w);
      }
    }
    std::sort(regions.begin(), regions.end());
    std::vector<HsHit> chits;
    for (std::size_t k = 0; k < regions.size();) {
      Span r = regions[k++];
      while (k < regions.size() && regions[k].first <= r.second)
        r.second = std::max(r.second, regions[k++].second);
      dbs.scan(HsView::context, std::string_view(norm.text).substr(r.first, r.second - r.first),
               chits, r.first);
    }
    take(chits);
  }
  for (auto& l : ref_spans) l.seal();
  // Names are looked for only when something could use them: the name detector is the
  // costliest pass, and most sentences carry no anchor that needs a person.
  const bool maybe_list = ref_list_detail_ >= 0 && ref_spans[ref_list_detail_].v.size() >= 3;
  bool need_names = ref_person_ >= 0 && maybe_list;
  for (std::size_t ri = 0; ri < rules.size() && !need_names && ref_person_ >= 0; ++ri) {
    if (!uses_names_[ri]) continue;
    const Rule& r = rules[ri];
    need_names =
        r.anchor_ref == ref_person_ ||
        (r.anchor_ref >= 0 ? !ref_spans[r.anchor_ref].v.empty() : !rule_anchors[ri].empty());
  }
  if (need_names) {
    // On the original text, where capitals still say something.
    for (const TextSpan& t : find_person_names(seg.text, names_))
      ref_spans[ref_person_].push({norm.from_source(t.start), norm.from_source(t.end)});
    ref_spans[ref_person_].seal();
  }
  if (need_names && maybe_list && ref_people_list_ >= 0) {
    // Three or more short lines that each name a person and carry a personal detail (a
    // date, an identifier, a need) are a list of people, whatever the wording around it.
    SpanList& lists = ref_spans[ref_people_list_];
    std::size_t run_start = 0, run_len = 0, last_end = 0;
    std::size_t ls = 0;
    auto flush = [&]() {
      if (run_len >= 3) lists.push({run_start, last_end});
      run_len = 0;
    };
    for (std::size_t k = 0; k <= breaks.line.size(); ++k) {
      std::size_t le = k < breaks.line.size() ? breaks.line[k] : n;
      Span line{ls, le};
      bool has_name = any_in(ref_spans[ref_person_], line, {n, n});
      bool has_detail = has_name && any_in(ref_spans[ref_list_detail_], line, {n, n});
      if (has_name && has_detail) {
        if (run_len == 0) run_start = ls;
        ++run_len;
        last_end = le;
      } else if (le - ls > 1) {
        flush();
      }
      ls = le;
    }
    flush();
    lists.seal();
  }

  const bool forwarded = ctx.others_words && !ctx.endorsed;
  SpanList quoted;
  bool quoted_done = false;
  // The sentence layer's cues, built once per segment when a rule first needs them.
  std::vector<Cue> cues;
  bool cues_done = false;
  const auto& refs = rules_.refs();
  std::vector<unsigned> cue_ids;  // pattern of each cue whose start is still approximate
  auto read = [&](Span a) {
    if (!cues_done) {
      for (int ref : typed_refs_)
        for (std::size_t k = 0; k < ref_spans[ref].v.size(); ++k)
          cues.push_back({ref_spans[ref].v[k], refs[ref].target >= 0,
                          refs[ref].target >= 0 ? refs[ref].target : refs[ref].stance,
                          refs[ref].detail,
                          static_cast<int>(ref_spans[ref].ids[k] == kNoPattern
                                               ? -1
                                               : static_cast<int>(ref_spans[ref].ids[k]))});
      // By end: ends are exact (a start may still be refined below), so the order holds.
      std::sort(cues.begin(), cues.end(),
                [](const Cue& x, const Cue& y) { return x.span.second < y.span.second; });
      cues_done = true;
    }
    // A header (the Subject) is one unit; in a body, a sentence, table row or list item.
    Span unit = window_of(seg.kind == SegmentKind::header ? breaks.line : breaks.sentence, a, n);
    // A "sentence" with no full stop in a large table or CSV can be megabytes long: reading
    // it once per anchor would cost time and memory quadratic in the segment. Past
    // kMaxUnitBytes the unit is the anchor's line (a table row), and past that again a
    // window of kMaxUnitBytes around the anchor.
    const bool clipped = unit.second - unit.first > kMaxUnitBytes;
    if (clipped) {
      Span line = window_of(breaks.line, a, n);
      unit = {std::max(unit.first, line.first), std::min(unit.second, line.second)};
      if (unit.second - unit.first > kMaxUnitBytes) {
        unit.first =
            std::max(unit.first, a.first > kMaxUnitBytes / 2 ? a.first - kMaxUnitBytes / 2 : 0);
        unit.second = std::min(unit.second, a.second + kMaxUnitBytes / 2);
      }
    }
    // A semicolon joins two sentences in one: the reading stays in the anchor's clause
    // (looked for after the clipping: a search of a megabyte per anchor is quadratic too).
    std::string_view ut(norm.text.data() + unit.first, unit.second - unit.first);
    std::size_t before = ut.rfind("; ", a.first - unit.first);
    if (before != std::string_view::npos && unit.first + before + 2 <= a.first)
      unit.first += before + 2;
    std::size_t after = std::string_view(norm.text).substr(0, unit.second).find("; ", a.second);
    if (after != std::string_view::npos) unit.second = after + 1;
    Span prev{0, 0};
    if (!clipped && unit.first > 0 && seg.kind != SegmentKind::header) {
      Span p = window_of(breaks.sentence, {unit.first - 1, unit.first}, n);
      if (p.second - p.first <= kMaxUnitBytes && window_of(breaks.paragraph, {p.first, p.first + 1},
                                                           n) == window_of(breaks.paragraph, a, n))
        prev = {p.first, unit.first};
    }
    // The cues of these units get their exact starts (how close a stance is to its
    // target, what a negation reaches, what --explain shows).
    const std::size_t from = prev.second > prev.first ? prev.first : unit.first;
    auto it = std::lower_bound(cues.begin(), cues.end(), from + 1,
                               [](const Cue& c, std::size_t end) { return c.span.second < end; });
    for (; it != cues.end() && it->span.second <= unit.second; ++it)
      if (it->tag >= 0) {
        it->span.first = dbs.exact_start(static_cast<unsigned>(it->tag), norm.text, it->span.first,
                                         it->span.second);
        it->tag = -1;
      }
    return read_unit(norm.text, unit, prev, cues);
  };
  // A finding in a long list (a class list's window is the whole list) would otherwise copy
  // every name in it for every anchor in it: quadratic in the list. Past kMaxPersonsPerHit
  // a marker stands for "many people", which no parent-contacts entry clears.
  auto add_person = [](RuleHit& h) {
    if (h.persons.size() < kMaxPersonsPerHit) return true;
    if (h.persons.size() == kMaxPersonsPerHit) h.persons.push_back("(many people)");
    return false;
  };
  for (std::size_t ri = 0; ri < rules.size(); ++ri) {
    if (only_rule >= 0 && static_cast<int>(ri) != only_rule) continue;
    const Rule& r = rules[ri];
    if (own_words_[ri] && forwarded) continue;
    if (own_words_[ri] && !quoted_done) {
      if (!ctx.endorsed) quoted.v = quoted_spans(norm.text, ctx.sender_names);
      quoted.seal();
      quoted_done = true;
    }
    if (!r.scope.empty() && std::find(r.scope.begin(), r.scope.end(), seg.kind) == r.scope.end())
      continue;
    const std::vector<Span>& anchors =
        r.anchor_ref >= 0 ? ref_spans[r.anchor_ref].v : rule_anchors[ri];
    Span last_hit{n + 1, n + 1};
    std::size_t rule_hits = 0;
    for (const Span& a : anchors) {
      if (rule_hits >= kMaxHitsPerRule) break;
      if (a == last_hit) continue;
      if (own_words_[ri] && any_in(quoted, {a.first, a.second}, {n + 1, n + 1})) continue;
      Span w = window(r, a);
      bool ok = true;
      for (const Condition& c : r.with) {
        bool any = false;
        for (int ref : c.refs) any = any || any_in(ref_spans[ref], w, a);
        if (!any) {
          ok = false;
          break;
        }
      }
      for (const Condition& c : r.without) {
        if (!ok) break;
        for (int ref : c.refs)
          if (any_in(ref_spans[ref], w, a)) {
            ok = false;
            break;
          }
      }
      if (ok && !r.without_before.empty()) {
        Span before{std::max(w.first, a.first > 60 ? a.first - 60 : 0), a.first};
        // A negation reaches only the rest of its clause: "best not to arrange it through
        // school - message me on WhatsApp" invites; "I can't add you" does not.
        auto reaches = [&](Span neg) {
          if (neg.second >= a.first) return true;
          std::string_view gap(norm.text.data() + neg.second, a.first - neg.second);
          for (std::string_view w : {" - ", ";", ":", " but ", " so ", "(", ")"})
            if (gap.find(w) != std::string_view::npos) return false;
          return true;
        };
        for (const Condition& c : r.without_before) {
          for (int ref : c.refs)
            if (any_in(ref_spans[ref], before, a, reaches)) {
              ok = false;
              break;
            }
          if (!ok) break;
        }
      }
      RuleHit hit{static_cast<int>(ri), seg_index, 0, 0, {}, {}, {}, false};
      if (ok && r.reads_sentence()) {
        Reading rd = read(a);
        // For each entry, the cue of one of its kinds nearest the anchor (what --explain shows).
        auto dist = [&](Span x) {
          return x.second <= a.first   ? a.first - x.second
                 : a.second <= x.first ? x.first - a.second
                                       : 0;
        };
        // A target before the anchor (the subject: "his mum can't spell") is preferred to
        // one after it ("...her own son's name"), by a few words' worth of distance.
        auto nearest = [&](const std::vector<Found>& found, auto kinds,
                           bool target) -> const Found* {
          const Found* best = nullptr;
          auto cost = [&](Span x) { return dist(x) + (target && x.first >= a.second ? 40 : 0); };
          for (const Found& f : found)
            if (std::find(kinds.begin(), kinds.end(), f.kind) != kinds.end() &&
                (!best || cost(f.span) < cost(best->span)))
              best = &f;
          return best;
        };
        auto ints = [](const auto& v) {
          std::vector<int> out;
          for (auto k : v) out.push_back(static_cast<int>(k));
          return out;
        };
        const Found* tf = nullptr;
        for (const auto& any : r.targets) {
          const Found* got = nearest(rd.targets, ints(any), true);
          if (!got) {
            ok = false;
            break;
          }
          if (!tf) tf = got;
        }
        const Found* sf = nullptr;
        for (const auto& any : r.stances) {
          if (!ok) break;
          const Found* got = nearest(rd.stances, ints(any), false);
          if (!got) {
            ok = false;
            break;
          }
          if (!sf) sf = got;
        }
        if (ok && r.reach > 0) {
          // Some target of the first entry close to some stance of the first entry.
          auto gap = [](Span x, Span y) {
            return x.second <= y.first   ? y.first - x.second
                   : y.second <= x.first ? x.first - y.second
                                         : 0;
          };
          const Found *bt = nullptr, *bs = nullptr;
          for (const Found& t : rd.targets) {
            if (std::find(r.targets[0].begin(), r.targets[0].end(), static_cast<Target>(t.kind)) ==
                r.targets[0].end())
              continue;
            for (const Found& st : rd.stances) {
              if (std::find(r.stances[0].begin(), r.stances[0].end(),
                            static_cast<Stance>(st.kind)) == r.stances[0].end())
                continue;
              Span between = t.span.second <= st.span.first ? Span{t.span.second, st.span.first}
                                                            : Span{st.span.second, t.span.first};
              // A stance inside its target is part of a name ("Mr Twit"); a target inside its
              // stance is what the stance is about ("too old for").
              const bool overlap = st.span.first >= t.span.first && st.span.second <= t.span.second;
              if (!overlap && ((gap(t.span, st.span) <= static_cast<std::size_t>(r.reach) &&
                                !clause_break(norm.text, between.first, between.second)) ||
                               copular_subject(norm.text, t.span, st.span, rd.targets))) {
                bt = &t;
                bs = &st;
                break;
              }
            }
            if (bt) break;
          }
          ok = bt != nullptr;
          if (ok) {
            tf = bt;
            sf = bs;
          }
        }
        for (Stance st : r.without_stance) ok = ok && !rd.has_stance(st);
        // `without_target`: the stance is not about one of these - no target nearer to it
        // (one before it preferred; the sender aside) is of another kind. "He couldn't find
        // the school on a map" is about him; "the governors are clowns" is about the body
        // even though "the governors" are people too.
        if (ok && !r.without_target.empty()) {
          std::vector<int> others;
          for (int k = 0; k <= static_cast<int>(Target::staff); ++k)
            if (k != static_cast<int>(Target::sender) &&
                std::find(r.without_target.begin(), r.without_target.end(),
                          static_cast<Target>(k)) == r.without_target.end())
              others.push_back(k);
          // A target inside the stance's own words ("past it" names an age) is what the
          // stance says, not whom it is said of.
          std::vector<Found> outside;
          for (const Found& t : rd.targets)
            if (!(t.span.first >= a.first && t.span.second <= a.second)) outside.push_back(t);
          const Found* excluded = nearest(outside, ints(r.without_target), true);
          // A referent ("a bunch of clowns") points at the stance's own words, not at whom
          // they are said of.
          std::vector<Found> subjects;
          for (const Found& t : rd.targets)
            if (t.detail != "referent") subjects.push_back(t);
          const Found* other = nearest(subjects, others, true);
          auto cost = [&](const Found* f) {
            return dist(f->span) + (f->span.first >= a.second ? 40 : 0);
          };
          ok = !excluded || (other && cost(other) < cost(excluded));
        }
        if (ok) {
          if (!tf && !rd.targets.empty()) tf = &rd.targets.front();
          if (!sf && !rd.stances.empty()) sf = &rd.stances.front();
          if (tf) hit.target = describe(norm.text, *tf, true);
          if (sf) hit.stance = describe(norm.text, *sf, false);
          for (const Found& f : rd.targets)
            if (f.kind == static_cast<int>(Target::named) && add_person(hit)) {
              auto [ps, pe] = norm.source_range(f.span.first, f.span.second, seg.text);
              hit.persons.push_back(seg.text.substr(ps, pe - ps));
            }
        }
      }
      if (ok && hit.persons.empty() && uses_names_[ri] && ref_person_ >= 0) {
        // The persons the finding is about (the parent-contacts check asks whose data it is).
        const SpanList& ps = ref_spans[ref_person_];
        for (const Span& p : ps.v)
          if (p.second > w.first && p.first < w.second) {
            if (!add_person(hit)) break;
            auto [s0, e0] = norm.source_range(p.first, p.second, seg.text);
            hit.persons.push_back(seg.text.substr(s0, e0 - s0));
          }
      }
      if (!ok) continue;
      last_hit = a;
      Span ev = a;
      if (r.anchor_ref >= 0) {
        unsigned id = ref_spans[r.anchor_ref].id_of(a);
        if (id != kNoPattern) ev.first = dbs.exact_start(id, norm.text, a.first, a.second);
      }
      if (!quoted_done) {
        if (!ctx.endorsed) quoted.v = quoted_spans(norm.text, ctx.sender_names);
        quoted.seal();
        quoted_done = true;
      }
      hit.quoted = any_in(quoted, {a.first, a.second}, {n + 1, n + 1});
      auto [s, e] = norm.source_range(ev.first, ev.second, seg.text);
      hit.start = s;
      hit.end = e;
      out.push_back(std::move(hit));
      ++rule_hits;
    }
  }
}

int Matcher::ref_index(std::string_view name) const {
  const auto& refs = rules_.refs();
  for (std::size_t i = 0; i < refs.size(); ++i)
    if (refs[i].name == name) return static_cast<int>(i);
  return -1;
}

Matcher::Presence Matcher::lexicon_presence(std::string_view text, const std::vector<int>& wanted,
                                            std::size_t max_bytes, bool own_only) const {
  Presence p;
  p.own.assign(rules_.refs().size(), false);
  p.quoted = p.own;
  bool in_anchors = false, in_context = false;
  for (int ref : wanted)
    if (ref >= 0) (anchors_ref_[ref] ? in_anchors : in_context) = true;
  if (!in_anchors && !in_context) return p;
  NormText norm = normalize(text.substr(0, std::min(text.size(), max_bytes)));
  if (norm.text.empty()) return p;
  std::vector<Span> quoted = quoted_spans(norm.text, nullptr);
  std::string_view scanned = norm.text;
  if (own_only && !quoted.empty()) scanned = scanned.substr(0, quoted.front().first);
  const HsDatabases& dbs = rules_.databases();
  std::vector<HsHit> hits;
  if (in_anchors) dbs.scan(HsView::anchors, scanned, hits);
  if (in_context && dbs.has(HsView::context)) dbs.scan(HsView::context, scanned, hits);
  const auto& info = rules_.pattern_info();
  for (const HsHit& h : hits) {
    int lex = info[h.id].lexicon;
    if (lex < 0) continue;
    bool q = std::any_of(quoted.begin(), quoted.end(),
                         [&](const Span& s) { return h.to > s.first && h.to <= s.second; });
    (q ? p.quoted : p.own)[lex] = true;
  }
  return p;
}

std::vector<std::string> Matcher::check_examples() const {
  std::vector<std::string> errors;
  const auto& rules = rules_.rules();
  // Examples are read as if Jo Marsh sent them (url:sender-named: "jomarsh.example").
  static const std::vector<std::string> example_sender = {"=marsh", "jomarsh"};
  for (std::size_t ri = 0; ri < rules.size(); ++ri) {
    const Rule& r = rules[ri];
    auto fires = [&](const std::string& text) {
      Segment seg{"example", SegmentKind::body, text};
      if (!r.scope.empty()) seg.kind = r.scope.front();
      std::vector<RuleHit> hits;
      SegmentContext ctx;
      ctx.sender_names = &example_sender;
      scan_segment(seg, 0, hits, static_cast<int>(ri), ctx);
      return !hits.empty();
    };
    for (const auto& ex : r.examples_match)
      if (!fires(ex))
        errors.push_back(r.file + ":" + std::to_string(r.line) + ": rule " + r.id +
                         ": example should match but does not: \"" + ex + "\"");
    for (const auto& ex : r.examples_no_match)
      if (fires(ex))
        errors.push_back(r.file + ":" + std::to_string(r.line) + ": rule " + r.id +
                         ": example should not match but does: \"" + ex + "\"");
  }
  return errors;
}

}  // namespace pm
