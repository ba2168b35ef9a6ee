#include "engine/engine.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <map>
#include <set>

#include "config/check.h"
#include "decode/decode.h"
#include "engine/config.h"
#include "match/matcher.h"
#include "match/rules.h"
#include "policy/judge.h"
#include "policy/parent_contacts.h"
#include "policy/recipient_role.h"
#include "policy/recipients.h"
#include "policy/schools.h"
#include "util/error.h"
#include "util/strings.h"

namespace pm {

namespace {

std::vector<std::string> read_roster(const std::filesystem::path& file) {
  std::vector<std::string> names;
  if (file.empty()) return names;
  std::string content;
  try {
    content = read_file(file.string());
  } catch (const std::exception&) {
    throw ConfigError(file.string(), 0, "cannot read roster");
  }
  for (auto line : split(content, '\n')) {
    line = trim(line.substr(0, line.find(',')));
    if (!line.empty() && line[0] != '#') names.push_back(to_lower_ascii(line));
  }
  return names;
}

bool domain_in(const std::string& domain, const std::vector<std::string>& list) {
  for (const auto& d : list)
    if (domain == d || (domain.size() > d.size() && domain.ends_with("." + d))) return true;
  return false;
}

// Origin prefixes ("forward/2 ") of forwarded messages written by someone other than the
// sender: their words are not the sender's. A forward of the sender's own mail is theirs.
// The author is the first address of the forward's "addresses" segment (its From line).
std::vector<std::string> forwards_by_others(const DecodedMessage& d, const std::string& sender) {
  std::vector<std::string> out;
  const std::string me = to_lower_ascii(sender);
  for (const Segment& s : d.segments) {
    auto pos = s.origin.rfind("addresses");
    if (pos == std::string::npos || pos == 0 || !s.origin.ends_with("addresses")) continue;
    std::string prefix = s.origin.substr(0, pos);
    std::string first = std::string(s.text.substr(0, s.text.find('\n')));
    auto lt = first.find('<'), gt = first.find('>');
    std::string author = lt != std::string::npos && gt != std::string::npos && gt > lt
                             ? first.substr(lt + 1, gt - lt - 1)
                             : std::string(trim(first));
    if (me.empty() || to_lower_ascii(author) != me) out.push_back(prefix);
  }
  return out;
}

// Alphanumerics of `s`, lower case: "Dr Ruth Kemble" -> "drruthkemble".
std::string squash(std::string_view s) {
  std::string out;
  for (char c : s)
    if (std::isalnum(static_cast<unsigned char>(c)))
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return out;
}

// Parts of the sender's name a personal site would carry: the From display name's words
// and the address's local part, 4 letters or more, and first + last run together
// ("Jo Marsh <j.marsh@...>" -> =marsh, jomarsh: see Matcher::scan_segment).
std::vector<std::string> name_parts(const DecodedMessage& d, const std::string& sender) {
  std::vector<std::string> out;
  auto add = [&](std::string w) {
    std::size_t len = w.size() - (w.starts_with('=') ? 1 : 0);
    if (len >= 4 && std::find(out.begin(), out.end(), w) == out.end()) out.push_back(std::move(w));
  };
  if (!d.from.empty()) {
    std::vector<std::string> words;
    for (auto part : split(d.from.front().display, ' ')) {
      std::string p = squash(part);
      static const char* const titles[] = {"mr", "mrs", "ms", "miss", "mx", "dr"};
      if (p.empty() ||
          std::any_of(std::begin(titles), std::end(titles), [&](const char* t) { return p == t; }))
        continue;
      words.push_back(p);
    }
    for (const auto& w : words) add("=" + w);
    if (words.size() >= 2) add(words.front() + words.back());
  }
  std::string local = to_lower_ascii(sender.substr(0, sender.find('@')));
  for (auto part : split(local, '.')) add("=" + squash(part));
  // Words that name a role, not a person ("office", "admin") would match any site.
  static const char* const roles[] = {
      "office",    "admin",   "head",    "headteacher", "school", "info",      "enquiries",
      "bursar",    "senco",   "staff",   "class",       "year",   "reception", "noreply",
      "governors", "finance", "teacher", "annes",       "stannes"};
  std::erase_if(out, [&](const std::string& w) {
    std::string_view bare = std::string_view(w).substr(w.starts_with('=') ? 1 : 0);
    return std::any_of(std::begin(roles), std::end(roles),
                       [&](const char* r) { return bare == r; });
  });
  return out;
}

}  // namespace

struct Engine::SchoolState {
  RecipientDomains domains;  // judged_domains(): its own and the trust's
  std::vector<std::string> whistleblowing;
  std::vector<std::string> lookalike_bases;  // staff domains a lookalike is a typo of
  ParentContacts contacts;                   // empty when not configured
};

void Engine::drop_credited(std::vector<RuleHit>& hits, const DecodedMessage& d) const {
  const auto& rules = rules_->rules();
  bool any = false;
  for (const RuleHit& h : hits) any |= rules[h.rule].credited_exempt;
  if (!any) return;
  // Names the message mentions, less the sender's own (from the From display name).
  std::set<std::string> sender;
  if (!d.from.empty())
    for (auto part : split(d.from.front().display, ' '))
      if (part.size() >= 3) sender.insert(squash(part));
  std::vector<std::string> names;
  for (const Segment& s : d.segments) {
    if (s.kind == SegmentKind::links || s.origin == "addresses") continue;
    for (const TextSpan& n : matcher_->person_names(s.text)) {
      // A name that shares a part with the sender's is the sender's own (or a page named
      // after them): it credits nobody else.
      std::vector<std::string> parts;
      bool senders = false;
      for (auto part : split(std::string_view(s.text).substr(n.start, n.end - n.start), ' ')) {
        std::string p = squash(part);
        senders |= sender.count(p) > 0;
        if (p.size() >= 4 && p != "miss" && p != "mrs") parts.push_back(p);
      }
      if (!senders) names.insert(names.end(), parts.begin(), parts.end());
    }
  }
  if (names.empty()) return;
  std::erase_if(hits, [&](const RuleHit& h) {
    if (!rules[h.rule].credited_exempt) return false;
    // The site's own name: its host and, on a platform, the first path segment - not a
    // post's slug, which names whatever the post is about ("/young-voices.html").
    std::string_view raw =
        std::string_view(d.segments[h.segment].text).substr(h.start, h.end - h.start);
    std::size_t scheme = raw.find("://");
    std::size_t from = scheme == std::string_view::npos ? 0 : scheme + 3;
    std::size_t slash = raw.find('/', from);
    std::size_t cut = slash == std::string_view::npos ? raw.size() : raw.find('/', slash + 1);
    std::string url = squash(raw.substr(0, cut == std::string_view::npos ? raw.size() : cut));
    // A site that carries the sender's own name is theirs, whoever else the text names.
    for (const auto& sp : sender)
      if (sp.size() >= 4 && url.find(sp) != std::string::npos) return false;
    for (const auto& n : names)
      if (url.find(n) != std::string::npos) return true;
    return false;
  });
}

void Engine::judge_recipients(JudgeInput& in, const std::vector<RuleHit>& hits,
                              const DecodedMessage& d, const ParentContacts& contacts,
                              Verdict& v) const {
  const auto& rules = rules_->rules();
  bool wants_roles = false, confidential = false;
  for (const RuleHit& h : hits) {
    const CategoryDef* c = rules_->category(rules[h.rule].category);
    wants_roles |= c && !c->roles.empty();
    confidential |= rules[h.rule].category == "confidential";
  }
  const bool check_contacts = confidential && !contacts.empty();
  bool outside = false;
  for (const auto& r : in.recipients)
    outside |= is_outside(r.cls) && r.cls != RecipientClass::pupil;
  bool quoted_conf = confidential;
  for (const RuleHit& h : hits)
    if (rules[h.rule].category == "confidential") quoted_conf = quoted_conf && h.quoted;
  if (!wants_roles && !check_contacts && !quoted_conf) return;
  // Cues of whom the message is written to, in the sender's own words (and the quoted mail
  // it answers). One scan of the body text, only for messages that need it.
  RoleCues cues;
  auto lex = [&](const char* n) { return matcher_->ref_index(n); };
  const int salutation = lex("parent-salutation"), child = lex("your-child"),
            supplier = lex("supplier-context"), press = lex("press-recipient"),
            voice = lex("parent-voice"), friendly = lex("friend-context"),
            mention = lex("child-mention");
  bool quoted_voice = false;
  std::string quoted_text;
  for (const Segment& s : d.segments) {
    if (!outside) break;  // pupils and staff only: their class says who they are
    // The text a person reads: Subject, bodies, and attachments (a letter sent as a file).
    if (s.kind != SegmentKind::body && s.kind != SegmentKind::attachment && s.origin != "subject")
      continue;
    const bool forwarded = s.origin.starts_with("forward/");
    // Cues sit at the start (a greeting, the first lines); a long attachment is read no further.
    Matcher::Presence p = matcher_->lexicon_presence(
        s.text, {salutation, child, supplier, press, voice, friendly, mention}, 16384);
    auto own = [&](int ref) { return ref >= 0 && !forwarded && p.own[ref]; };
    cues.parent_salutation |= own(salutation);
    cues.your_child |= own(child);
    cues.supplier_context |= own(supplier);
    cues.press_context |= own(press);
    cues.friend_context |= own(friendly);
    cues.child_mention |= own(mention);
    if (voice >= 0 && (p.quoted[voice] || (forwarded && p.own[voice]))) {
      quoted_voice = true;
      quoted_text += s.text;
    }
  }
  if (quoted_voice) {
    // The parent whose mail is answered: a recipient the quoted mail names (its "On ...,
    // <address> wrote:" line), else the only outside recipient.
    std::vector<std::string> outside_addrs;
    for (const auto& r : in.recipients)
      if (is_outside(r.cls)) outside_addrs.push_back(r.address);
    const std::string lower = to_lower_ascii(quoted_text);
    for (const auto& a : outside_addrs)
      if (lower.find(a) != std::string::npos) cues.parent_authors.push_back(a);
    if (cues.parent_authors.empty() && outside_addrs.size() == 1)
      cues.parent_authors = outside_addrs;
  }
  // A reply that quotes the recipient's own mail tells them nothing new: confidential
  // detail found only in the quoted text does not count for its author (the recipient the
  // quoted mail names, else the only outside recipient).
  bool all_quoted = confidential;
  for (const RuleHit& h : hits)
    if (rules[h.rule].category == "confidential") all_quoted = all_quoted && h.quoted;
  std::vector<std::string> quoted_authors;
  if (all_quoted) {
    std::string quoted_lower;
    for (const Segment& s : d.segments)
      if (s.kind == SegmentKind::body) quoted_lower += to_lower_ascii(s.text);
    std::vector<std::string> outside_addrs;
    for (const auto& r : in.recipients)
      if (is_outside(r.cls)) outside_addrs.push_back(r.address);
    for (const auto& a : outside_addrs)
      if (quoted_lower.find(a) != std::string::npos) quoted_authors.push_back(a);
    if (quoted_authors.empty() && outside_addrs.size() == 1) quoted_authors = outside_addrs;
  }
  // Whose data the confidential findings are: the persons named where each one is.
  std::vector<std::vector<std::string>> named;
  if (check_contacts)
    for (const RuleHit& h : hits)
      if (rules[h.rule].category == "confidential") named.push_back(h.persons);
  for (std::size_t i = 0; i < in.recipients.size(); ++i) {
    JudgeRecipient& r = in.recipients[i];
    RoleInference ri =
        r.whistleblowing
            ? RoleInference{RecipientRole::business, "prescribed whistleblowing body"}
            : infer_role(r.address, r.cls, !contacts.empty() && contacts.listed(r.address), cues);
    r.role = ri.role;
    v.recipients[i].role = to_string(ri.role);
    v.recipients[i].role_reason = ri.reason;
    if (std::find(quoted_authors.begin(), quoted_authors.end(), r.address) != quoted_authors.end())
      r.cleared.push_back("confidential");
    if (check_contacts && is_outside(r.cls) && r.cls != RecipientClass::partner) {
      ParentContacts::Check c = contacts.check(named, r.address);
      if (c.cleared)
        r.cleared.push_back("confidential");
      else
        v.recipients[i].mismatch = c.mismatch;
    }
  }
}

// A forward or reply keeps the original's Subject: "Fwd: your useless" carries the words of
// whoever wrote the forwarded mail when the forwarded or quoted header block below holds the
// same Subject. An edited subject ("Re: Invoice 31 - our head can't sign a cheque") is the
// sender's own.
static bool subject_is_quoted(const DecodedMessage& d) {
  std::string subject;
  for (const Segment& s : d.segments)
    if (s.origin == "subject") subject = to_lower_ascii(s.text);
  std::string_view rest = subject;
  for (bool more = true; more;) {
    more = false;
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    for (std::string_view p : {"re:", "fwd:", "fw:", "aw:", "wg:", "tr:", "sv:", "vs:"})
      if (rest.starts_with(p)) {
        rest.remove_prefix(p.size());
        more = true;
      }
  }
  if (rest.size() == subject.size() || rest.size() < 4) return false;
  const std::string needle = "subject: " + std::string(rest);
  // Case-blind search in place: no lower-case copy of every body on the scan path.
  auto same = [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == static_cast<unsigned char>(b);
  };
  for (const Segment& s : d.segments)
    if (s.kind == SegmentKind::body && std::search(s.text.begin(), s.text.end(), needle.begin(),
                                                   needle.end(), same) != s.text.end())
      return true;
  return false;
}

bool Engine::endorses(const DecodedMessage& d, const std::vector<std::string>& others) const {
  // Only mail that carries someone else's words (a forward, a quoted reply) can endorse.
  const int ref = matcher_->ref_index("endorsement");
  if (ref < 0) return false;
  bool carries = !others.empty();
  for (const Segment& s : d.segments) {
    if (carries || s.kind != SegmentKind::body) continue;
    const std::string t = to_lower_ascii(s.text);
    for (const char* mark : {"\n>", "wrote:", "forwarded message", "original message", "\nfrom:"})
      carries |= t.find(mark) != std::string::npos;
  }
  if (!carries) return false;
  for (const Segment& s : d.segments) {
    if (s.kind != SegmentKind::body) continue;
    if (std::any_of(others.begin(), others.end(),
                    [&](const std::string& p) { return s.origin.starts_with(p); }))
      continue;
    if (matcher_->lexicon_presence(s.text, {ref}, 8192, true).own[ref]) return true;
  }
  return false;
}

Engine::Engine() = default;
Engine::~Engine() = default;

std::shared_ptr<const Engine> Engine::load(const std::filesystem::path& config_file) {
  std::shared_ptr<Engine> e(new Engine());
  e->config_ = std::make_unique<Config>(load_config(config_file));
  const Config& c = *e->config_;
  // Rosters and the trust's own sites are one set for all its schools: a link to a sister
  // school's site is the trust's, not a personal page, and a name on St Mary's roster is a
  // name in St Anne's mail too (the compiled rules are shared by every school).
  std::vector<std::string> roster, official;
  std::vector<std::filesystem::path> rosters_read;
  for (const SchoolConfig& s : c.schools) {
    if (!s.roster.empty() &&
        std::find(rosters_read.begin(), rosters_read.end(), s.roster) == rosters_read.end()) {
      rosters_read.push_back(s.roster);
      for (auto& n : read_roster(s.roster)) roster.push_back(std::move(n));
    }
    // (One school: its lists as they are, so its rules' cache key does not change.)
    for (const auto* list : {&s.website, &s.official_social})
      for (const auto& o : *list)
        if (!c.trust || std::find(official.begin(), official.end(), o) == official.end())
          official.push_back(o);
  }
  std::vector<std::string> roster_given;
  for (const auto& r : roster) roster_given.push_back(r.substr(0, r.find(' ')));
  e->rules_ = RuleSet::load(c.rules_dir, official, roster_given, c.cache_dir, c.local_dir,
                            c.local_dir_required);
  std::vector<std::string> not_names = e->rules_->name_stopwords();
  for (const SchoolConfig& s : c.schools) e->school_domains_.push_back({s.id, s.domains});
  e->schools_.resize(c.schools.size());
  for (std::size_t i = 0; i < c.schools.size(); ++i) {
    const SchoolConfig& s = c.schools[i];
    SchoolState& st = e->schools_[i];
    st.domains = judged_domains(e->school_domains_, i, c.other_school_colleague);
    st.whistleblowing = s.whistleblowing_domains;
    st.lookalike_bases = lookalike_bases(st.domains);
    if (s.parent_contacts.empty()) continue;
    std::string content;
    try {
      content = read_file(s.parent_contacts.string());
    } catch (const std::exception&) {
      throw ConfigError(s.parent_contacts.string(), 0, "cannot read the parent-contacts export");
    }
    try {
      st.contacts = ParentContacts::parse(content);
    } catch (const std::invalid_argument& ex) {
      throw ConfigError(s.parent_contacts.string(), 0, ex.what());
    }
  }
  e->matcher_ = std::make_unique<Matcher>(
      *e->rules_, NameLexicon::build(e->rules_->given_names(), not_names, roster));

  auto policy = std::make_unique<JudgePolicy>();
  policy->misaddress = c.misaddress;
  auto cells = [&](const std::string& id) {
    auto it = c.actions.find(id);
    if (it == c.actions.end())
      throw ConfigError(c.file.string(), 0, "[actions] has no entry for category '" + id + "'");
    return it->second;
  };
  // Every [actions] cell names a category: a misspelt one would leave the real one unset.
  std::vector<std::string> known = {"unscannable"};
  for (const CategoryDef& d : e->rules_->categories()) known.push_back(d.id);
  for (const auto& [id, cell] : c.actions)
    if (std::find(known.begin(), known.end(), id) == known.end())
      throw ConfigError(c.file.string(), cell.line,
                        "[actions]: " + config::unknown("category", id, known));
  for (const CategoryDef& d : e->rules_->categories()) {
    CategoryPolicy p;
    p.id = d.id;
    p.applies_to = d.applies_to;
    p.threshold = d.threshold;
    p.internal = cells(d.id).internal;
    p.outside = cells(d.id).outside;
    // The policy sends staff with a concern to the whistleblowing procedure: what they
    // tell a prescribed body is neither disrepute nor an unlawful disclosure.
    p.exempt_whistleblowing = d.id == "disrepute" || d.id == "confidential";
    p.roles = d.roles;
    policy->categories.push_back(p);
  }
  CategoryPolicy un;
  un.id = "unscannable";
  un.internal = cells("unscannable").internal;
  un.outside = cells("unscannable").outside;
  policy->categories.push_back(un);
  // Monitor mode: what is enforced is the policy with the monitored categories' cells (all
  // of them, and the misaddress action, for mode = "monitor") set to deliver; the whole
  // policy is still judged, so the verdict says what would have happened.
  auto enforced = std::make_unique<JudgePolicy>(*policy);
  for (CategoryPolicy& p : enforced->categories)
    if (c.monitor_all || std::find(c.monitor_categories.begin(), c.monitor_categories.end(),
                                   p.id) != c.monitor_categories.end())
      p.internal = p.outside = Action::accept;
  if (c.monitor_all) enforced->misaddress = Action::accept;
  e->enforced_ = std::move(enforced);
  e->policy_ = std::move(policy);
  std::size_t h = std::hash<std::string>{}(c.raw + e->rules_->hash());
  char buf[32];
  std::snprintf(buf, sizeof buf, "%012zx", h & 0xFFFFFFFFFFFFULL);
  e->snapshot_ = buf;
  return e;
}

Verdict Engine::scan(std::string_view message, const Envelope* envelope, const char* unread) const {
  const auto t0 = std::chrono::steady_clock::now();
  const Config& c = *config_;
  Verdict v;
  v.snapshot = snapshot_;

  DecodedMessage d;
  if (unread) {
    d.unscannable.push_back({"message", unread});
  } else if (message.size() > c.limits.max_message_bytes) {
    d.unscannable.push_back({"message", "limit:max_message_bytes"});
  } else {
    d = decode_message(message, c.limits,
                       Deadline(std::chrono::milliseconds(c.limits.scan_time_budget_ms)));
  }

  // Recipients: the envelope, or To + Cc + Bcc for a file scan.
  std::vector<std::string> rcpts;
  if (envelope) {
    rcpts = envelope->recipients;
    v.sender = envelope->sender;
  } else {
    for (const auto* list : {&d.to, &d.cc, &d.bcc})
      for (const auto& a : *list) rcpts.push_back(a.address);
    if (!d.from.empty()) v.sender = d.from.front().address;
  }
  // The sender's school (policy/schools.h): its domains judge the recipients.
  const SchoolChoice school = resolve_school(v.sender, school_domains_, c.exceptions.roles);
  const SchoolState& ss = schools_[school.index];
  v.school = c.schools[school.index].id;
  if (c.trust) v.school_reason = describe_school(school, school_domains_);
  v.school_guessed =
      school.reason == SchoolReason::no_school || school.reason == SchoolReason::shared_unlisted;
  JudgeInput in;
  std::set<std::string> seen;
  // Exceptions: per recipient, which exception capped which category (for the verdict).
  std::vector<std::map<std::string, std::string>> exception_names;
  const int today = static_cast<int>(std::time(nullptr) / 86400);
  for (auto& r : rcpts) {
    std::string addr = to_lower_ascii(trim(r));
    if (addr.size() > 2 && addr.front() == '<' && addr.back() == '>')
      addr = addr.substr(1, addr.size() - 2);
    if (addr.empty() || !seen.insert(addr).second) continue;
    JudgeRecipient jr;
    jr.address = addr;
    jr.cls = classify_recipient(addr, ss.domains);
    jr.whistleblowing = domain_in(domain_of(addr), ss.whistleblowing);
    exception_names.emplace_back();
    if (!c.exceptions.empty())
      jr.caps = exception_caps(c.exceptions, today, v.sender, addr, &exception_names.back());
    in.recipients.push_back(jr);
  }

  // Match + validate, segment by segment.
  std::vector<RuleHit> hits;
  const std::vector<std::string> others = forwards_by_others(d, v.sender);
  const std::vector<std::string> sender_names = name_parts(d, v.sender);
  const bool endorsed = endorses(d, others);
  const bool subject_theirs = subject_is_quoted(d);
  for (std::size_t i = 0; i < d.segments.size(); ++i) {
    const std::string& o = d.segments[i].origin;
    SegmentContext ctx;
    ctx.others_words = std::any_of(others.begin(), others.end(),
                                   [&](const std::string& p) { return o.starts_with(p); }) ||
                       (o == "subject" && subject_theirs);
    ctx.endorsed = endorsed;
    ctx.sender_names = &sender_names;
    matcher_->scan_segment(d.segments[i], i, hits, -1, ctx);
  }
  const auto& rules = rules_->rules();
  drop_credited(hits, d);
  // Display names are labels of mailboxes ("Early Help Hub <...>"), not data about anyone.
  std::erase_if(hits, [&](const RuleHit& h) {
    return rules[h.rule].category == "confidential" &&
           d.segments[h.segment].origin.ends_with("addresses");
  });
  std::vector<Finding> findings;
  std::set<std::tuple<int, std::string>> evidence_seen;  // (rule, evidence)
  std::set<int> fired;                                   // distinct rules
  for (const RuleHit& h : hits) {
    const Rule& r = rules[h.rule];
    const Segment& seg = d.segments[h.segment];
    std::string evidence = seg.text.substr(h.start, h.end - h.start);
    // The same evidence for the same rule again - the text/plain and text/html versions of
    // one body, a link shown in the text and listed again among the link targets - is one
    // finding, reported where it was first seen.
    if (!evidence_seen.insert({h.rule, to_lower_ascii(evidence)}).second) continue;
    Finding f;
    f.rule = r.id;
    f.category = r.category;
    f.clause = r.clause;
    f.origin = seg.origin;
    f.segment = h.segment;
    f.start = h.start;
    f.end = h.end;
    f.evidence = std::move(evidence);
    f.target = h.target;
    f.stance = h.stance;
    findings.push_back(std::move(f));
    if (fired.insert(h.rule).second) in.hits.push_back({r.category, r.id, r.weight, r.applies_to});
  }
  // Many outside addresses in To/Cc (not Bcc) are shown to each other: personal data
  // disclosed to every recipient (POLICY.md, "Confidential content").
  if (c.disclosed_addresses > 0) {
    std::set<std::string> shown;
    for (const auto* list : {&d.to, &d.cc})
      for (const auto& a : *list) {
        std::string addr = to_lower_ascii(trim(a.address));
        RecipientClass cls = classify_recipient(addr, ss.domains);
        if (cls == RecipientClass::personal_webmail || cls == RecipientClass::external)
          shown.insert(addr);
      }
    if (shown.size() >= c.disclosed_addresses) {
      const CategoryDef* conf = rules_->category("confidential");
      Finding f;
      f.rule = "confidential.addresses-disclosed";
      f.category = "confidential";
      // The sender's notice quotes the clause: it says what to do instead.
      f.clause = (conf ? conf->clause + " " : std::string()) +
                 "Addresses of parents and other people outside the school are personal data: "
                 "put them in Bcc, not To or Cc, so that no recipient sees the others' addresses.";
      f.origin = "addresses";
      f.segment = d.segments.size();  // the headers as a whole, no span
      f.evidence = std::to_string(shown.size()) + " outside addresses in To/Cc";
      findings.push_back(std::move(f));
      in.hits.push_back({"confidential", "confidential.addresses-disclosed", 1.0, {}});
    }
  }
  in.unscannable = !d.unscannable.empty();
  for (const Unscannable& u : d.unscannable) {
    Finding f;
    f.rule = "unscannable." + u.reason;
    f.category = "unscannable";
    f.clause = "Content the filter cannot read is held or tagged, never passed unchecked.";
    f.origin = u.origin;
    f.segment = d.segments.size();  // not in any segment
    findings.push_back(std::move(f));
  }

  v.recipients.resize(in.recipients.size());
  judge_recipients(in, hits, d, ss.contacts, v);
  Judgement j = judge(in, *enforced_);
  const bool watching = c.monitor_all || !c.monitor_categories.empty();
  Judgement w = watching ? judge(in, *policy_) : Judgement{};
  const Judgement& would = watching ? w : j;
  v.action = j.action;
  v.would_action = would.action;
  v.monitor_all = c.monitor_all;
  if (v.monitoring())
    for (const auto& cat : j.categories)
      if (c.monitor_all || std::find(c.monitor_categories.begin(), c.monitor_categories.end(),
                                     cat) != c.monitor_categories.end())
        v.monitored.push_back(cat);
  v.categories = j.categories;
  v.notes = j.notes;
  for (std::size_t i = 0; i < in.recipients.size() && i < j.recipients.size(); ++i) {
    RecipientVerdict& rv = v.recipients[i];
    rv.address = in.recipients[i].address;
    rv.cls = in.recipients[i].cls;
    rv.action = j.recipients[i].action;
    rv.categories = j.recipients[i].categories;
    rv.would_action = i < would.recipients.size() ? would.recipients[i].action : rv.action;
    if (rv.cls == RecipientClass::lookalike)
      rv.lookalike_of =
          lookalike_of(domain_of(rv.address), ss.lookalike_bases, c.domains.lookalike_max_distance);
    // Each exception used for this recipient, with the categories it capped.
    std::map<std::string, std::vector<std::string>> by_name;
    for (const auto& cat : j.recipients[i].excepted)
      by_name[exception_names[i][cat]].push_back(cat);
    for (auto& [name, cats] : by_name) {
      AppliedException ae;
      ae.name = name;
      ae.recipient = rv.address;
      ae.categories = std::move(cats);
      for (const auto& ex : c.exceptions.exceptions)
        if (ex.name == name) ae.action = ex.action;
      v.exceptions.push_back(std::move(ae));
    }
  }
  v.recipients.resize(std::min(in.recipients.size(), j.recipients.size()));
  // Keep the findings of the categories that hold; the others were content that matched
  // but did not count for these recipients (policyctl --explain reports them).
  std::set<std::string> held(v.categories.begin(), v.categories.end());
  for (auto& f : findings) {
    if (held.count(f.category))
      v.findings.push_back(std::move(f));
    else
      v.unapplied.push_back(std::move(f));
  }
  v.segments = std::move(d.segments);
  v.attachments = std::move(d.attachments);
  v.subject = std::move(d.subject);
  v.message_id = std::move(d.message_id);
  v.elapsed_us = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count());
  return v;
}

}  // namespace pm
