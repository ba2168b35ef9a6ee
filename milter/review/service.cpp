#include "review/service.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <set>

#include "notify/outbox.h"
#include "notify/smtp.h"
#include "policy/recipients.h"
#include "util/printable.h"

namespace pm {

using nlohmann::json;

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool intersects(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  for (const auto& x : a)
    if (contains(b, x)) return true;
  return false;
}

unsigned edit_distance(const std::string& a, const std::string& b) {
  std::vector<unsigned> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = static_cast<unsigned>(j);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = static_cast<unsigned>(i);
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] =
          std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0u : 1u)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string webmail_name(const std::string& domain) {
  auto starts = [&](const char* p) { return domain.rfind(p, 0) == 0; };
  if (domain == "gmail.com" || domain == "googlemail.com") return "Gmail";
  if (starts("hotmail.") || starts("live.") || domain == "outlook.com" || domain == "msn.com")
    return "Outlook/Hotmail";
  if (starts("yahoo.") || domain == "ymail.com") return "Yahoo";
  if (domain == "icloud.com" || domain == "me.com" || domain == "mac.com") return "iCloud";
  if (domain == "btinternet.com") return "BT";
  if (starts("aol.")) return "AOL";
  return domain;
}

std::string class_label(const std::string& cls) {
  if (cls == "internal") return "staff";
  if (cls == "pupil") return "pupil account";
  if (cls == "partner") return "partner organisation";
  if (cls == "personal-webmail") return "personal webmail";
  if (cls == "lookalike") return "probable typo";
  return "outside the school";
}

std::int64_t now_s() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

}  // namespace

std::size_t utf16_index(const std::string& s, std::size_t byte_offset) {
  std::size_t n = 0, end = std::min(byte_offset, s.size());
  for (std::size_t i = 0; i < end; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte
    n += c >= 0xF0 ? 2 : 1;            // 4-byte sequences are surrogate pairs
  }
  return n;
}

std::string redacted_context(const std::string& text, std::size_t start, std::size_t end) {
  start = std::min(start, text.size());
  end = std::clamp(end, start, text.size());
  auto back = [&](std::size_t p) {
    while (p > 0 && p < text.size() && (static_cast<unsigned char>(text[p]) & 0xC0) == 0x80) --p;
    return p;
  };
  std::size_t from = back(start > 40 ? start - 40 : 0);
  std::size_t to = back(std::min(text.size(), end + 40));
  auto clean = [](std::string s) {
    std::string out, word;
    auto flush = [&]() {
      if (word.find('@') != std::string::npos) word = "[address]";
      for (char& c : word)
        if (c >= '0' && c <= '9') c = '#';
      out += word;
      word.clear();
    };
    for (char c : s) {
      if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
        flush();
        out += ' ';
      } else {
        word += c;
      }
    }
    flush();
    return out;
  };
  return clean(text.substr(from, start - from)) + "[...]" + clean(text.substr(end, to - end));
}

ReviewService::ReviewService(ReviewConfig config, QuarantineBackend& store, UserStore& users,
                             Clock clock)
    : config_(std::move(config)), store_(store), users_(users), clock_(std::move(clock)) {
  if (!clock_) clock_ = now_s;
}

json ReviewService::verdict_of(const std::string& id) {
  std::string text = store_.read_verdict_json(id);
  json v = json::parse(text, nullptr, false);
  return v.is_object() ? v : json::object();
}

namespace {

bool word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || (c & 0x80);
}

// `term` in `hay` at word boundaries ("the head" matches "the head is", "the head's", not
// "the headline"; both lower case).
bool has_term(const std::string& hay, const std::string& term) {
  if (term.empty()) return false;
  for (std::size_t p = hay.find(term); p != std::string::npos; p = hay.find(term, p + 1)) {
    bool start_ok = p == 0 || !word_char(hay[p - 1]) || !word_char(term.front());
    std::size_t e = p + term.size();
    bool end_ok = e >= hay.size() || !word_char(hay[e]) || !word_char(term.back());
    if (start_ok && end_ok) return true;
  }
  return false;
}

std::string squeeze_spaces(const std::string& s) {
  std::string out;
  for (char c : s) {
    bool sp = c == ' ' || c == '\n' || c == '\r' || c == '\t';
    if (sp && (out.empty() || out.back() == ' ')) continue;
    out += sp ? ' ' : c;
  }
  return out;
}

std::vector<std::string> json_strings(const json& j, const char* key) {
  std::vector<std::string> out;
  if (j.is_object() && j.contains(key) && j[key].is_array())
    for (const auto& e : j[key])
      if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

// A route entry names a login, or "duty:X" every account with duty X.
bool names(const std::vector<std::string>& entries, const Account& a) {
  for (const auto& e : entries) {
    if (e == a.login) return true;
    if (e.rfind("duty:", 0) == 0 && contains(a.duties, e.substr(5))) return true;
  }
  return false;
}

bool is_sender(const Account& a, const QuarantineItem& item) {
  return !a.email.empty() && lower(a.email) == lower(item.sender);
}

}  // namespace

json ReviewService::decide_route(const QuarantineItem& item) {
  std::string hay;  // the decoded text, lower case (ASCII), spaces squeezed
  bool need_text = false;
  for (const auto& r : config_.routes) need_text |= !r.terms.empty();
  if (need_text) {
    json v = verdict_of(item.id);
    hay = lower(item.subject);
    if (v.contains("segments"))
      for (const auto& s : v["segments"]) hay += "\n" + lower(s.value("text", ""));
    hay = squeeze_spaces(hay);
  }
  const ReviewSchool* school = school_of(item);
  for (const auto& r : config_.routes) {
    bool cat_ok = r.categories.empty() || intersects(r.categories, item.categories);
    // A school's own head teacher and chair names stand for {head} / {chair} in its mail.
    const std::vector<std::string> terms =
        school ? route_terms(r.written_terms, school->head_teacher_names, school->chair_names)
               : r.terms;
    bool term_ok = terms.empty();
    for (const auto& t : terms) term_ok = term_ok || has_term(hay, t);
    if (cat_ok && term_ok)
      return {{"name", r.name},
              {"reviewers", r.reviewers},
              {"exclude", r.exclude},
              {"deputies", r.deputies}};
  }
  return {{"name", ""},
          {"reviewers", json::array()},
          {"exclude", json::array()},
          {"deputies", config_.deputies}};
}

void ReviewService::ensure_route(QuarantineItem& item) {
  if (!item.route.empty() || item.status != QuarantineStatus::held) return;
  std::string r = decide_route(item).dump();
  if (!store_.set_route(item.id, r)) {  // another process decided it first: theirs holds
    if (auto again = store_.get(item.id)) r = again->route;
  }
  item.route = r;
}

int ReviewService::assign_routes() {
  QuarantineFilter f;
  f.status = QuarantineStatus::held;
  f.limit = 100000;
  int n = 0;
  for (auto& item : store_.list(f))
    if (item.route.empty()) {
      ensure_route(item);
      ++n;
    }
  return n;
}

std::string ReviewService::route_of(QuarantineItem item) {
  ensure_route(item);
  return json::parse(item.route.empty() ? "{}" : item.route, nullptr, false).value("name", "");
}

std::vector<std::string> ReviewService::reviewer_logins(QuarantineItem item,
                                                        const std::vector<Account>& accounts) {
  ensure_route(item);
  std::vector<std::string> out;
  // A message decided before routes were stored, whose text is gone: nobody can tell who
  // it concerned, so only an admin (command line, unscoped audit) sees it.
  if (item.route.empty()) return out;
  json route = json::parse(item.route, nullptr, false);
  const auto reviewers = json_strings(route, "reviewers"), exclude = json_strings(route, "exclude");
  const auto deputies = json_strings(route, "deputies");  // cover: they decide too
  // Routes apply within the school: only accounts of the message's school (and the trust
  // roles) are ever its reviewers, deputies or fallbacks.
  auto eligible = [&](const Account& a) {
    return in_school(a, item) && !is_sender(a, item) && !names(exclude, a);
  };
  for (const auto& a : accounts) {
    if (!eligible(a)) continue;
    bool in = names(deputies, a) ||
              (reviewers.empty() ? a.categories.empty() || intersects(a.categories, item.categories)
                                 : names(reviewers, a));
    if (in) out.push_back(a.login);
  }
  // Nobody left (e.g. the head teacher's own message): the next reviewers the
  // configuration names.
  if (out.empty())
    for (const auto& a : accounts)
      if (eligible(a) && names(config_.fallback_reviewers, a)) out.push_back(a.login);
  return out;
}

bool ReviewService::may_review(const Account& a, const QuarantineItem& item) {
  return contains(reviewer_logins(item, users_.list()), a.login);
}

std::vector<Account> ReviewService::reviewers_of(const QuarantineItem& item) {
  auto accounts = users_.list();
  auto logins = reviewer_logins(item, accounts);
  std::vector<Account> out;
  for (auto& a : accounts)
    if (contains(logins, a.login)) out.push_back(std::move(a));
  return out;
}

QuarantineItem ReviewService::require(const Account& a, const std::string& id) {
  auto item = store_.get(id);
  // Another school's message is "no such message", as an unknown id: scope does not leak.
  if (!item || item->status == QuarantineStatus::deleted || !in_school(a, *item) ||
      !may_review(a, *item))
    throw NotFound("no such message");
  return *item;
}

std::optional<std::vector<std::string>> ReviewService::school_scope(const Account& a) const {
  if (config_.schools.empty() || is_trust_role(a.role)) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& id : a.schools)
    if (config_.school(id) && !contains(out, id)) out.push_back(id);
  // Mail stored before [[schools]] were configured has no school: the first school's.
  if (contains(out, config_.schools.front().id)) out.push_back("");
  return out;
}

bool ReviewService::in_school(const Account& a, const QuarantineItem& item) const {
  auto scope = school_scope(a);
  return !scope || contains(*scope, item.school);
}

const ReviewSchool* ReviewService::school_of(const QuarantineItem& item) const {
  if (config_.schools.empty()) return nullptr;
  if (item.school.empty()) return &config_.schools.front();
  return config_.school(item.school);
}

json ReviewService::counts(const Account& a) {
  json out = json::object();
  auto scope = school_scope(a);
  const auto accounts = users_.list();
  for (auto st : {QuarantineStatus::held, QuarantineStatus::released, QuarantineStatus::refused}) {
    std::size_t n = 0;
    if (!scope || !scope->empty()) {
      QuarantineFilter f;
      f.status = st;
      f.limit = 100000;
      if (scope) f.schools = *scope;
      // The same test as the list: routes decide who sees what within a school.
      for (auto& item : store_.list(f)) {
        ensure_route(item);
        if (contains(reviewer_logins(item, accounts), a.login)) ++n;
      }
    }
    out[to_string(st)] = n;
  }
  return out;
}

std::vector<Account> ReviewService::visible_accounts(const Account& a) {
  auto scope = school_scope(a);
  std::vector<Account> out;
  for (auto& other : users_.list())
    if (!scope || other.login == a.login || is_trust_role(other.role) ||
        intersects(other.schools, *scope))
      out.push_back(std::move(other));
  return out;
}

json ReviewService::session_info(const Account& a) {
  json schools = json::array();
  auto scope = school_scope(a);
  for (const auto& sc : config_.schools)
    if (!scope || contains(*scope, sc.id)) schools.push_back({{"id", sc.id}, {"name", sc.name}});
  // One school in view: its name and reviewer title; several: the trust's.
  const ReviewSchool* one =
      schools.size() == 1 ? config_.school(schools[0]["id"].get<std::string>()) : nullptr;
  std::string name = one ? one->name
                     : !config_.schools.empty() && !config_.trust_name.empty()
                         ? config_.trust_name
                         : config_.engine.school_name;
  return {{"title", one ? one->reviewer_title : config_.reviewer_title},
          {"school", name},
          {"schools", schools}};
}

json ReviewService::summary(const QuarantineItem& item) {
  json v = item.status == QuarantineStatus::held || item.status == QuarantineStatus::released
               ? verdict_of(item.id)
               : json::object();
  return {{"id", item.id},
          {"message_id", v.value("message_id", "")},
          {"received", item.received_at},
          {"sender", item.sender},
          {"recipients", item.recipients},
          {"subject", item.subject},
          {"categories", item.categories},
          {"state", to_string(item.status)},
          {"school", item.school}};
}

json ReviewService::recipients(const QuarantineItem& item, const json& verdict) {
  std::map<std::string, std::string> cls_of;
  if (verdict.contains("recipients"))
    for (const auto& r : verdict["recipients"])
      cls_of[lower(r.value("address", ""))] = r.value("class", "");
  json out = json::array();
  for (const auto& addr : item.recipients) {
    std::string a = lower(addr);
    // A verdict without classes (an old row): judge against the message's own school.
    const RecipientDomains& domains = config_.engine.schools.empty()
                                          ? config_.engine.domains
                                          : pm::school_of(config_.engine, item.school).domains;
    std::string cls = cls_of.count(a) ? cls_of[a] : to_string(classify_recipient(a, domains));
    std::string dom = domain_of(a);
    std::string why;
    if (cls == "internal") {
      why = "a staff account of the school";
    } else if (cls == "pupil") {
      why = "a pupil account: pupils are not staff, so personal data must not go there";
    } else if (cls == "partner") {
      why = "a partner organisation (" + dom +
            "): lawful sharing, e.g. a safeguarding referral, is possible";
    } else if (cls == "personal-webmail") {
      why = "personal " + webmail_name(dom) + ": a private mailbox outside the school's control";
    } else if (cls == "lookalike") {
      std::string best;
      unsigned bd = ~0u;
      const ReviewSchool* school = school_of(item);
      for (const auto& s : school ? school->staff_domains : config_.engine.domains.staff)
        if (unsigned d = edit_distance(dom, s); d < bd) bd = d, best = s;
      why = "looks like a typo of " + best + ": probably sent to the wrong address";
    } else {
      why = "outside the school";
    }
    out.push_back({{"address", addr},
                   {"class", cls},
                   {"label", class_label(cls)},
                   {"why", why},
                   {"held", contains(item.held_recipients, addr)},
                   {"released", contains(item.released_recipients, addr)}});
  }
  return out;
}

json ReviewService::list(const Account& a, const QuarantineFilter& filter) {
  json out = json::array();
  std::int64_t now = clock_();
  QuarantineFilter f = filter;
  if (auto scope = school_scope(a)) {
    if (scope->empty()) return out;  // an account of no configured school sees nothing
    f.schools = *scope;              // in the query: other schools' mail is never read
  }
  const auto accounts = users_.list();
  for (auto& item : store_.list(f)) {
    if (item.status == QuarantineStatus::deleted || !in_school(a, item)) continue;
    ensure_route(item);
    if (!contains(reviewer_logins(item, accounts), a.login)) continue;
    json v = item.status == QuarantineStatus::held ? verdict_of(item.id) : json::object();
    json s = summary(item);
    s["age_seconds"] = now - item.received_at;
    s["recipients_detail"] = recipients(item, v);
    s["route"] = route_of(item);
    s["findings"] = v.contains("findings") ? v["findings"].size() : 0;
    out.push_back(std::move(s));
  }
  return out;
}

json ReviewService::detail(const Account& a, const std::string& id) {
  require(a, id);
  return detail_unscoped(a.login, id);
}

json ReviewService::detail_unscoped(const std::string& actor, const std::string& id) {
  auto found = store_.get(id);
  if (!found || found->status == QuarantineStatus::deleted) throw NotFound("no such message");
  const QuarantineItem& item = *found;
  json v = verdict_of(id);
  store_.audit(actor, "viewed", id);
  json d = summary(item);
  d["rules"] = item.rules;
  d["status_by"] = item.status_by;
  d["status_at"] = item.status_at;
  d["size"] = item.size;
  d["route"] = route_of(item);
  d["notes"] = v.value("notes", json::array());
  d["recipients_detail"] = recipients(item, v);
  d["held_recipients"] = item.held_recipients;
  d["released_recipients"] = item.released_recipients;
  // Segments and findings: offsets converted to UTF-16 for the browser.
  json segs = json::array();
  std::map<std::string, std::size_t> seg_of;
  if (v.contains("segments"))
    for (const auto& s : v["segments"]) {
      std::string origin = s.value("origin", "");
      if (!seg_of.count(origin)) seg_of[origin] = segs.size();
      segs.push_back(
          {{"origin", origin}, {"kind", s.value("kind", "")}, {"text", s.value("text", "")}});
    }
  json finds = json::array();
  std::map<std::string, int> per_origin;
  if (v.contains("findings"))
    for (const auto& f : v["findings"]) {
      std::string origin = f.value("origin", "");
      json o = {{"rule", f.value("rule", "")},
                {"category", f.value("category", "")},
                {"clause", f.value("clause", "")},
                {"origin", origin}};
      auto it = seg_of.find(origin);
      if (it != seg_of.end()) {
        const std::string& text = segs[it->second]["text"].get_ref<const std::string&>();
        std::size_t st = f.value("start", std::size_t{0}), en = f.value("end", std::size_t{0});
        o["segment"] = it->second;
        o["start"] = utf16_index(text, st);
        o["end"] = utf16_index(text, std::max(st, en));
      } else {
        o["segment"] = nullptr;  // e.g. an unscannable attachment: nothing to highlight
      }
      per_origin[origin]++;
      finds.push_back(std::move(o));
    }
  json atts = json::array();
  if (v.contains("attachments"))
    for (const auto& at : v["attachments"]) {
      std::string origin = at.value("origin", "");
      json where = json::array();
      int n = 0;
      for (const auto& [o, c] : per_origin)
        if (o == origin || o.rfind(origin + "/", 0) == 0 || o.rfind(origin + "#", 0) == 0) {
          n += c;
          where.push_back(o);
        }
      atts.push_back({{"origin", origin},
                      {"name", at.value("name", "")},
                      {"type", at.value("type", "")},
                      {"size", at.value("size", 0)},
                      {"findings", n},
                      {"where", where}});
    }
  d["segments"] = segs;
  d["findings_detail"] = finds;
  d["attachments"] = atts;
  d["can_decide"] = item.status == QuarantineStatus::held && item.claim.empty();
  // What the sender added through their link (issue 13): for the reviewer, who decides.
  json reasons = json::array();
  AuditQuery rq;
  rq.message_id = id;
  rq.action = "sender-reason";
  auto entries = store_.audit_page(rq);
  for (auto e = entries.rbegin(); e != entries.rend(); ++e)  // oldest first
    reasons.push_back({{"at", e->at}, {"reason", e->note}});
  d["sender_reasons"] = reasons;
  d["claim"] = item.claim;
  d["claim_by"] = item.claim_by;
  return d;
}

NoticeSettings ReviewService::notice_settings(const QuarantineItem& item) const {
  NoticeSettings s;
  s.school_name = config_.engine.school_name.empty() ? "the school" : config_.engine.school_name;
  s.from = config_.notice_from;
  s.review_url = config_.public_url;
  s.reviewer_title = config_.reviewer_title;
  if (const ReviewSchool* school = school_of(item)) {  // [[schools]]: the message's school
    if (!school->name.empty()) s.school_name = school->name;
    s.from = school->notice_from;
    s.reviewer_title = school->reviewer_title;
  }
  return s;
}

bool ReviewService::send(const Notice& n, const QuarantineItem& item) {
  if (n.to.empty()) return true;
  const NoticeSettings ns = notice_settings(item);
  try {
    smtp_send(config_.reinject, SmtpEnvelope{ns.from, n.to}, n.render(ns), 30);
    return true;
  } catch (const SmtpError& e) {
    spdlog::warn("notice for {} not sent: {}", item.id, log_value(e.what()));
    store_.audit("policy-review", "notice-failed", item.id, e.what());
    return false;
  }
}

namespace {

// The distinct policy clauses, and whether any finding lies in the Subject.
std::pair<std::vector<std::string>, bool> clauses_of(const json& v) {
  std::vector<std::string> clauses;
  bool in_subject = false;
  if (v.contains("findings"))
    for (const auto& f : v["findings"]) {
      std::string c = f.value("clause", "");
      if (!c.empty() && !contains(clauses, c)) clauses.push_back(c);
      if (f.value("origin", "") == "subject") in_subject = true;
    }
  return {clauses, !in_subject};
}

}  // namespace

json ReviewService::release(const std::string& actor, const std::string& id,
                            std::optional<std::vector<std::string>> chosen,
                            const std::string& note) {
  auto item = store_.get(id);
  if (!item || item->status == QuarantineStatus::deleted) throw NotFound("no such message");
  ensure_route(*item);  // before any decision can drop the text the route is read from
  if (!item->claim.empty())
    throw DecisionConflict("this message is being released by " + item->claim_by);
  if (item->status != QuarantineStatus::held)
    throw DecisionConflict(std::string("this message is already ") + to_string(item->status));
  std::vector<std::string> rcpts = chosen ? *chosen : item->held_recipients;
  if (chosen && chosen->empty())
    throw BadRequest(
        "recipients: tick at least one held recipient (leave the list out to release to all)");
  for (const auto& r : rcpts)
    if (!contains(item->held_recipients, r))
      throw BadRequest("recipients: not a held recipient of this message");
  if (rcpts.empty()) throw DecisionConflict("no recipient left to release to");
  // The claim: from here on every other decision on this message gets a conflict, in this
  // process and any other one on the same store, until the outcome is recorded below.
  int attempt = 0;
  try {
    attempt = store_.claim_release(id, rcpts, actor);
  } catch (const DecisionConflict&) {
    throw;
  } catch (const std::invalid_argument& e) {
    throw BadRequest(std::string("recipients: ") + e.what());
  }
  json v;
  try {
    v = verdict_of(id);
    std::string bytes = store_.read_message(id);
    // The only change to the bytes: one header on top, with the message's own line ends.
    const char* eol = bytes.find("\r\n") != std::string::npos ? "\r\n" : "\n";
    char when[64];
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    std::strftime(when, sizeof when, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    std::string header = "X-Policy-Released-By: " + printable(actor, 128) + " (quarantine " + id +
                         "); " + when + eol;
    smtp_send(config_.reinject, SmtpEnvelope{item->sender, rcpts}, header + bytes, 60);
  } catch (const SmtpError& e) {
    store_.abandon_release(id, actor, "attempt " + std::to_string(attempt) + ": " + e.what());
    throw ReleaseFailed(std::string("the mail system did not take the message back (") + e.what() +
                        "); it is still held");
  } catch (const std::exception& e) {
    store_.abandon_release(id, actor, "attempt " + std::to_string(attempt) + ": " + e.what());
    throw;
  }
  bool full = store_.complete_release(id, actor, note);
  auto [clauses, quote] = clauses_of(v);
  send(sender_outcome_notice(notice_settings(*item), *item,
                             full ? Outcome::released : Outcome::released_partial, rcpts, note,
                             quote),
       *item);
  return {{"released_to", rcpts}, {"fully_released", full}, {"attempt", attempt}};
}

void ReviewService::refuse(const std::string& actor, const std::string& id,
                           const std::string& note) {
  auto item = store_.get(id);
  if (!item || item->status == QuarantineStatus::deleted) throw NotFound("no such message");
  ensure_route(*item);  // the route outlives the text refusing deletes
  json v = verdict_of(id);
  store_.refuse(id, actor, note);  // DecisionConflict unless held and unclaimed
  auto [clauses, quote] = clauses_of(v);
  send(sender_outcome_notice(notice_settings(*item), *item, Outcome::refused, {}, note, quote),
       *item);
}

void ReviewService::dismiss(const std::string& actor, const std::string& id,
                            const std::string& rule, const std::string& note) {
  json v = verdict_of(id);
  std::string context;
  bool found = false;
  if (v.contains("findings") && v.contains("segments"))
    for (const auto& f : v["findings"]) {
      if (f.value("rule", "") != rule) continue;
      found = true;
      for (const auto& s : v["segments"])
        if (s.value("origin", "") == f.value("origin", "")) {
          context = redacted_context(s.value("text", ""), f.value("start", std::size_t{0}),
                                     f.value("end", std::size_t{0}));
          break;
        }
      break;
    }
  if (!found) throw std::invalid_argument("that rule did not fire on this message");
  // The exception it proposes: this sender to these held recipients, for the rule's
  // category. The admin decides; nothing changes until it is in the configuration.
  json proposal;
  if (auto item = store_.get(id)) {
    std::string category;
    for (const auto& f : v["findings"])
      if (f.value("rule", "") == rule) category = f.value("category", "");
    proposal = {{"sender", lower(item->sender)},
                {"recipients", item->held_recipients},
                {"categories", json::array({category})},
                {"message_id", id}};
  }
  store_.record_dismissal(id, actor, rule, context, note,
                          proposal.is_null() ? "" : proposal.dump());
}

json ReviewService::audit(const Account& a, AuditQuery q) {
  const std::size_t want = std::clamp<std::size_t>(q.limit, 1, 1000);
  const auto scope = school_scope(a);
  // Admins see every entry of their schools; the trust roles (and, with one school, the
  // admin) every entry; reviewers the entries of messages they may review.
  const bool admin = is_admin(a.role) || a.role == Role::dpo;
  const bool all = admin && !scope;
  const auto accounts = all ? std::vector<Account>{} : users_.list();
  std::set<std::string> colleagues;  // logins sharing a school with a scoped admin
  if (admin && scope)
    for (const auto& o : accounts)
      if (o.login == a.login || intersects(o.schools, *scope)) colleagues.insert(o.login);
  if (scope) {
    // In the query: other schools' entries are never read. "" holds entries about no
    // message (sign-ins), filtered below.
    q.schools = *scope;
    if (!contains(q.schools, "")) q.schools.push_back("");
  }
  std::map<std::string, bool> visible;  // message id -> in a's scope
  auto in_scope = [&](const AuditEntry& e) {
    if (all) return true;
    if (e.message_id.empty())  // sign-ins: one's own, or (admins) their schools' accounts'
      return e.actor == a.login || colleagues.count(e.actor) > 0;
    auto it = visible.find(e.message_id);
    if (it != visible.end()) return it->second;
    auto item = store_.get(e.message_id);
    bool ok = item && in_school(a, *item) &&
              (admin || (item->status != QuarantineStatus::deleted &&
                         contains(reviewer_logins(*item, accounts), a.login)));
    visible[e.message_id] = ok;
    return ok;
  };
  json entries = json::array();
  std::int64_t next = 0;
  q.limit = std::max<std::size_t>(want, 200);
  // Read in batches and keep what is in scope, so a page always holds `want` visible
  // entries (when there are that many) and the cursor never skips one.
  for (;;) {
    auto batch = store_.audit_page(q);
    for (const auto& e : batch) {
      if (entries.size() == want) {
        next = entries.back()["seq"].get<std::int64_t>();
        break;
      }
      if (!in_scope(e)) continue;
      entries.push_back({{"seq", e.seq},
                         {"at", e.at},
                         {"actor", e.actor},
                         {"action", e.action},
                         {"message_id", e.message_id},
                         {"note", e.note}});
    }
    if (next || batch.size() < q.limit) break;
    q.before = batch.back().seq;
  }
  return {{"entries", entries}, {"next", next ? json(next) : json(nullptr)}};
}

json ReviewService::dismissals(std::size_t limit) {
  Account everyone;  // the command line's view: every school
  everyone.role = Role::it_admin;
  return dismissals(everyone, limit);
}

json ReviewService::dismissals(const Account& a, std::size_t limit) {
  json out = json::array();
  const bool scoped = school_scope(a).has_value();
  for (const auto& d : store_.dismissals(limit)) {
    if (scoped) {
      auto item = store_.get(d.message_id);
      if (!item || !in_school(a, *item)) continue;
    }
    out.push_back({{"seq", d.seq},
                   {"at", d.at},
                   {"actor", d.actor},
                   {"message_id", d.message_id},
                   {"rule", d.rule},
                   {"context", d.context},
                   {"note", d.note}});
  }
  return out;
}

json ReviewService::monitor(const Account& a, std::size_t limit) {
  json out = json::array();
  const auto scope = school_scope(a);
  std::vector<MonitorItem> entries;
  if (!scope || !scope->empty())
    entries = store_.monitor_list(limit, 0, scope ? *scope : std::vector<std::string>{});
  for (const auto& m : entries) {
    if (!is_admin(a.role) && !a.categories.empty() && !intersects(a.categories, m.categories))
      continue;
    json v = json::parse(m.verdict_json, nullptr, false);
    json finds = json::array(), rcpts = json::array();
    if (v.is_object() && v.contains("findings"))
      for (const auto& f : v["findings"])
        finds.push_back({{"rule", f.value("rule", "")},
                         {"category", f.value("category", "")},
                         {"clause", f.value("clause", "")},
                         {"origin", f.value("origin", "")},
                         {"evidence", f.value("evidence", "")}});
    if (v.is_object() && v.contains("recipients"))
      for (const auto& r : v["recipients"])
        rcpts.push_back({{"address", r.value("address", "")},
                         {"class", r.value("class", "")},
                         {"label", class_label(r.value("class", ""))},
                         {"would_action", r.value("would_action", r.value("action", ""))}});
    out.push_back({{"seq", m.seq},
                   {"at", m.at},
                   {"queue_id", m.queue_id},
                   {"sender", m.sender},
                   {"subject", m.subject},
                   {"categories", m.categories},
                   {"rules", m.rules},
                   {"would_action", m.would_action},
                   {"school", m.school},
                   {"state", m.would_action == "quarantine" ? "would have been held"
                                                            : "would have been tagged"},
                   {"recipients", rcpts},
                   {"findings", finds}});
  }
  store_.audit(a.login, "monitor-viewed", "", std::to_string(out.size()) + " entries");
  return out;
}

std::string ReviewService::proposed_exceptions(std::size_t limit) {
  std::string out;
  std::set<std::string> seen;  // one snippet per sender, recipients and categories
  for (const auto& d : store_.dismissals(limit)) {
    json p = json::parse(d.proposal.empty() ? "null" : d.proposal, nullptr, false);
    if (!p.is_object()) continue;
    std::string key =
        p.value("sender", "") + "|" + p["recipients"].dump() + "|" + p["categories"].dump();
    if (!seen.insert(key).second) continue;
    auto quote = [](const json& list) {
      std::string s = "[";
      for (const auto& e : list) {
        if (!e.is_string()) continue;
        s += (s.size() > 1 ? ", " : "") + json(e.get<std::string>()).dump();
      }
      return s + "]";
    };
    std::time_t t = static_cast<std::time_t>(d.at) + 365 * 86400;
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char expires[16];
    std::strftime(expires, sizeof expires, "%Y-%m-%d", &tm);
    std::string name = "proposed-" + std::to_string(d.seq);
    out += "# \"not a violation\" by " + printable(d.actor, 64) + " on message " +
           p.value("message_id", "") + " (rule " + printable(d.rule, 128) + ")";
    if (!d.note.empty()) out += ": " + printable(d.note, 200);
    out +=
        "\n# Check it, narrow it (a role instead of one sender, a domain), then add it to\n"
        "# the [exceptions] of policy-milter.toml and run `policyctl rules check`.\n";
    out += "[[exceptions.rule]]\n";
    out += "name = \"" + name + "\"\n";
    out += "senders = " + quote(json::array({p.value("sender", "")})) + "\n";
    out += "recipients = " + quote(p["recipients"]) + "\n";
    out += "categories = " + quote(p["categories"]) + "\n";
    out += "action = \"deliver\"\n";
    out += std::string("expires = ") + expires + "\n\n";
  }
  return out;
}

int ReviewService::send_outbox(std::int64_t now) {
  OutboxResult r = pm::send_outbox(store_, config_.reinject, now, config_.claim_timeout_seconds,
                                   "policy-review");
  if (r.failed) spdlog::warn("queued notices: {} not sent (retried later)", r.failed);
  return r.sent;
}

Housekeeping ReviewService::send_notices(std::int64_t now, bool force_digest) {
  Housekeeping h;
  // Routes are decided while the text is there; a decider that died mid-release frees
  // its claim after claim_timeout_seconds.
  assign_routes();
  store_.expire_claims(now - config_.claim_timeout_seconds);
  // 0. Notices other processes queued (e.g. the milter's immediate ones).
  h.outbox = send_outbox(now);
  // 1. Senders: "held, which clause, the head teacher will review", with their link.
  for (const auto& item : store_.held_without_notice("sender-held")) {
    if (!store_.claim_notice(item.id, "sender-held")) continue;
    if (item.sender.empty()) continue;  // a bounce: nobody to tell
    json v = verdict_of(item.id);
    auto [clauses, quote] = clauses_of(v);
    // A misaddress held for its lookalike recipients only (the milter's own notice did not
    // go out): say which address looked like a typo of which staff domain.
    if (item.categories.empty() && v.contains("recipients"))
      for (const auto& r : v["recipients"])
        if (r.value("class", "") == "lookalike" &&
            contains(item.held_recipients, r.value("address", "")))
          clauses.push_back(r.value("address", "") + " looks like a typo of the school's domain " +
                            r.value("lookalike_of", std::string("(a staff domain)")) +
                            ": check the address and send the message again to the right one.");
    if (send(sender_held_notice(notice_settings(item), item, clauses, quote, sender_link(item),
                                item.received_at + config_.sender_link_days * 86400LL),
             item)) {
      ++h.sender_notices;
    } else {
      store_.unclaim_notice(item.id, "sender-held");
      ++h.failures;
    }
  }
  // 2. Reviewers: partner mail at once (urgent); the rest immediately or as a digest.
  // The digest goes out once per digest_minutes slot, from whichever process claims the
  // slot first (the store remembers it, so a process started every minute - the timer -
  // does not send one every minute).
  // (school, reviewer e-mail) -> items: one digest per school, in that school's name (a
  // trust role reviewing several schools gets one from each).
  using DigestKey = std::pair<std::string, std::string>;
  std::map<DigestKey, std::vector<HeldSummary>> digest;
  std::map<DigestKey, std::vector<std::string>> digest_ids;
  const std::int64_t slot = now / (static_cast<std::int64_t>(config_.digest_minutes) * 60);
  std::optional<bool> digest_due;
  if (force_digest) digest_due = true;
  for (const auto& item : store_.held_without_notice("reviewer")) {
    json rcpts = recipients(item, verdict_of(item.id));
    bool urgent = false;
    HeldSummary hs{item, {}};
    for (const auto& r : rcpts) {
      if (r["held"].get<bool>() && r["class"] == "partner") urgent = true;
      hs.recipient_notes.push_back(r["address"].get<std::string>() + ": " +
                                   r["label"].get<std::string>());
    }
    std::vector<std::string> emails;
    for (const auto& a : reviewers_of(item))
      if (!a.email.empty()) emails.push_back(a.email);
    if (config_.digest && !urgent) {
      if (!digest_due) digest_due = store_.claim_notice("digest", "slot-" + std::to_string(slot));
      if (!*digest_due) continue;
      if (!store_.claim_notice(item.id, "reviewer")) continue;
      const ReviewSchool* school = school_of(item);
      for (const auto& e : emails) {
        DigestKey key{school ? school->id : "", e};
        digest[key].push_back(hs);
        digest_ids[key].push_back(item.id);
      }
      continue;
    }
    if (!store_.claim_notice(item.id, "reviewer")) continue;
    if (send(reviewer_alert(notice_settings(item), emails, {hs}, urgent, now), item)) {
      h.reviewer_notices += emails.empty() ? 0 : 1;
      if (urgent)
        store_.audit("policy-review", "partner-alert", item.id,
                     std::to_string(emails.size()) + " reviewers");
    } else {
      store_.unclaim_notice(item.id, "reviewer");
      ++h.failures;
    }
  }
  for (const auto& [key, items] : digest) {
    const QuarantineItem& first = items.front().item;
    if (send(reviewer_alert(notice_settings(first), {key.second}, items, false, now), first)) {
      ++h.reviewer_notices;
    } else {
      for (const auto& id : digest_ids[key]) store_.unclaim_notice(id, "reviewer");
      ++h.failures;
    }
  }
  // 3. Cover: escalation to deputies.
  Housekeeping e = escalate(now);
  h.escalations = e.escalations;
  h.failures += e.failures;
  return h;
}

std::vector<std::string> ReviewService::emails_of(const QuarantineItem& item,
                                                  const std::string& entry) {
  json route = json::parse(item.route.empty() ? "{}" : item.route, nullptr, false);
  const auto exclude = json_strings(route, "exclude");
  std::vector<std::string> out;
  for (const auto& a : users_.list())
    if (!a.email.empty() && in_school(a, item) && names({entry}, a) && !is_sender(a, item) &&
        !names(exclude, a))
      out.push_back(a.email);
  return out;
}

Housekeeping ReviewService::escalate(std::int64_t now) {
  Housekeeping h;
  if (config_.escalate_after_hours <= 0) return h;
  const std::int64_t step = static_cast<std::int64_t>(config_.escalate_after_hours) * 3600;
  QuarantineFilter f;
  f.status = QuarantineStatus::held;
  f.until = now - step + 1;  // held at least one step
  f.limit = 100000;
  for (auto& item : store_.list(f)) {
    ensure_route(item);
    json route = json::parse(item.route.empty() ? "{}" : item.route, nullptr, false);
    const auto chain = json_strings(route, "deputies");  // none: nobody to escalate to
    const std::int64_t due = std::min<std::int64_t>((now - item.received_at) / step,
                                                    static_cast<std::int64_t>(chain.size()));
    for (std::int64_t level = 1; level <= due; ++level) {
      const std::string kind = "escalation-" + std::to_string(level);
      if (!store_.claim_notice(item.id, kind)) continue;
      auto emails = emails_of(item, chain[static_cast<std::size_t>(level - 1)]);
      if (emails.empty()) continue;  // nobody with an address at this level: the next one
      json rcpts = recipients(item, verdict_of(item.id));
      HeldSummary hs{item, {}};
      for (const auto& r : rcpts)
        hs.recipient_notes.push_back(r["address"].get<std::string>() + ": " +
                                     r["label"].get<std::string>());
      Notice n = reviewer_alert(notice_settings(item), emails, {hs}, false, now);
      const long hours = static_cast<long>((now - item.received_at) / 3600);
      n.subject = "Cover: held mail undecided for " + std::to_string(hours) + " hours";
      n.body = "Hello,\n\nYou are named as cover for this mail: nobody has decided it for " +
               std::to_string(hours) +
               " hours. You may review and decide it on the review page.\n\n" + n.body;
      if (send(n, item)) {
        ++h.escalations;
        store_.audit("policy-review", "escalated", item.id,
                     "level " + std::to_string(level) + " to " + std::to_string(emails.size()) +
                         " reviewer(s)");
      } else {
        store_.unclaim_notice(item.id, kind);
        ++h.failures;
        break;  // this level again next round, before the next one
      }
    }
  }
  return h;
}

void ReviewService::refuse_expired(const QuarantineItem& item, const std::string& actor,
                                   const std::string& why, Housekeeping& h) {
  NoticeSettings ns = notice_settings(item);
  auto [clauses, quote] = clauses_of(verdict_of(item.id));
  std::vector<std::string> emails;
  for (const auto& a : reviewers_of(item))
    if (!a.email.empty()) emails.push_back(a.email);
  try {
    store_.refuse(item.id, actor, why);
  } catch (const std::invalid_argument&) {
    return;  // decided meanwhile by someone else
  }
  ++h.expired;
  if (!item.sender.empty() &&
      !send(sender_outcome_notice(ns, item, Outcome::expired, {}, "", quote), item))
    ++h.failures;
  Notice rn;
  rn.to = emails;
  rn.subject = "Held mail refused automatically";
  std::string cats;
  for (const auto& c : item.categories) cats += (cats.empty() ? "" : ", ") + c;
  rn.body = "Hello,\n\nThe held message " + item.id + " from " + item.sender +
            " (categories: " + cats + ") was " + why +
            ", so it has been refused and deleted, and the sender has been told.\n";
  if (!send(rn, item)) ++h.failures;
}

Housekeeping ReviewService::retention(std::int64_t now) {
  Housekeeping h;
  const std::string actor = "policy-review (retention)";
  QuarantineFilter old;
  old.status = QuarantineStatus::held;
  old.limit = 100000;
  if (config_.refuse_after_school_days > 0) {
    // Counted in school days, and never on a day without school: what waits over a
    // holiday is there for the reviewer's return.
    const auto& cal = config_.calendar;
    if (cal.is_school_day(SchoolCalendar::day_of(now))) {
      const int n = config_.refuse_after_school_days;
      const std::string why = "not decided within " + std::to_string(n) + " school days";
      old.until = now - static_cast<std::int64_t>(n) * 86400 + 1;  // at least n days old
      for (const auto& item : store_.list(old))
        if (cal.school_days_between(item.received_at, now) >= n)
          refuse_expired(item, actor, why, h);
    }
  } else {
    old.until = now - static_cast<std::int64_t>(config_.held_days) * 86400;
    const std::string why = "not decided within " + std::to_string(config_.held_days) + " days";
    for (const auto& item : store_.list(old)) refuse_expired(item, actor, why, h);
  }
  store_.purge_monitor(now - static_cast<std::int64_t>(config_.monitor_days) * 86400);
  h.purged = static_cast<int>(
      store_.purge_decided(now - static_cast<std::int64_t>(config_.decided_days) * 86400, actor)
          .size());
  return h;
}

// ---- Senders' links ------------------------------------------------------------------

namespace {

std::string hex(const unsigned char* p, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(digits[p[i] >> 4]);
    out.push_back(digits[p[i] & 15]);
  }
  return out;
}

std::string link_mac(const std::string& key, const std::string& id, std::int64_t expiry) {
  const std::string msg = "sender-link\n" + id + "\n" + std::to_string(expiry);
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(msg.data()),
                                msg.size());
  crypto_auth_hmacsha256_final(&st, mac);
  return hex(mac, sizeof mac);
}

std::string sender_actor(const QuarantineItem& item) {
  return "sender:" + printable(item.sender, 200);
}

}  // namespace

std::string ReviewService::sender_token(const QuarantineItem& item) {
  const std::int64_t expiry = item.received_at + config_.sender_link_days * 86400LL;
  return item.id + "." + std::to_string(expiry) + "." +
         link_mac(store_.secret("sender-link"), item.id, expiry);
}

std::string ReviewService::sender_link(const QuarantineItem& item) {
  std::string base = config_.public_url;
  if (base.empty() || base.back() != '/') base += '/';
  // The token after '#': browsers never send it, so it is in no proxy's or server's log.
  return base + "sender#" + sender_token(item);
}

QuarantineItem ReviewService::sender_item(const std::string& token) {
  const auto d1 = token.find('.'), d2 = token.rfind('.');
  if (token.size() > 200 || d1 == std::string::npos || d1 == d2)
    throw LinkRefused("this link is not valid");
  const std::string id = token.substr(0, d1), exp = token.substr(d1 + 1, d2 - d1 - 1),
                    mac = token.substr(d2 + 1);
  if (exp.empty() || exp.size() > 12 || exp.find_first_not_of("0123456789") != std::string::npos)
    throw LinkRefused("this link is not valid");
  const std::int64_t expiry = std::stoll(exp);
  const std::string want = link_mac(store_.secret("sender-link"), id, expiry);
  if (mac.size() != want.size() || sodium_memcmp(mac.data(), want.data(), want.size()) != 0)
    throw LinkRefused("this link is not valid");
  if (clock_() >= expiry) throw LinkRefused("this link has expired");
  auto item = store_.get(id);
  if (!item) throw NotFound("no such message");
  return *item;
}

json ReviewService::sender_view(const std::string& token) {
  QuarantineItem item = sender_item(token);
  const bool withdrawn =
      item.status != QuarantineStatus::held && item.status_by.rfind("sender:", 0) == 0;
  std::string state = withdrawn ? "withdrawn" : to_string(item.status);
  json v = item.status == QuarantineStatus::held ? verdict_of(item.id) : json::object();
  auto [clauses, quote] = clauses_of(v);
  json rcpts = json::array();
  for (const auto& r : item.recipients)
    rcpts.push_back(
        {{"address", r},
         {"state", contains(item.released_recipients, r) ? "released"
                   : item.status == QuarantineStatus::held && contains(item.held_recipients, r)
                       ? "held"
                       : state}});
  json reasons = json::array();
  AuditQuery rq;
  rq.message_id = item.id;
  rq.action = "sender-reason";
  auto entries = store_.audit_page(rq);
  for (auto e = entries.rbegin(); e != entries.rend(); ++e)
    reasons.push_back({{"at", e->at}, {"reason", e->note}});
  store_.audit(sender_actor(item), "sender-viewed", item.id);
  return {{"id", item.id},
          {"state", state},
          {"received", item.received_at},
          {"decided", item.status == QuarantineStatus::held ? json(nullptr) : json(item.status_at)},
          {"subject", quote ? item.subject : std::string()},
          {"recipients", rcpts},
          {"clauses", clauses},
          {"reasons", reasons},
          {"reviewer_title", notice_settings(item).reviewer_title},
          {"school", school_of(item) ? school_of(item)->name : config_.engine.school_name},
          {"can_act", item.status == QuarantineStatus::held && item.claim.empty() &&
                          reasons.size() < static_cast<std::size_t>(config_.sender_reasons_max)}};
}

void ReviewService::sender_withdraw(const std::string& token) {
  QuarantineItem item = sender_item(token);
  if (item.status == QuarantineStatus::deleted) throw NotFound("no such message");
  ensure_route(item);  // the reviewers' audit still finds it after the text is gone
  // DecisionConflict unless held and unclaimed: a reviewer's release in progress wins.
  store_.refuse(item.id, sender_actor(item), "withdrawn by the sender");
  store_.audit(sender_actor(item), "withdrawn", item.id);
}

void ReviewService::sender_annotate(const std::string& token, const std::string& reason) {
  QuarantineItem item = sender_item(token);
  if (item.status == QuarantineStatus::deleted) throw NotFound("no such message");
  if (item.status != QuarantineStatus::held)
    throw DecisionConflict(std::string("this message is already ") + to_string(item.status));
  std::string r;
  for (char c : reason)
    r += (c == '\r' || c == '\t' || (c >= 0 && c < 0x20 && c != '\n')) ? ' ' : c;
  while (!r.empty() && (r.back() == ' ' || r.back() == '\n')) r.pop_back();
  while (!r.empty() && (r.front() == ' ' || r.front() == '\n')) r.erase(0, 1);
  if (r.empty()) throw BadRequest("reason: write a few words for the reviewer");
  if (r.size() > static_cast<std::size_t>(config_.sender_reason_max_bytes))
    throw BadRequest("reason: at most " + std::to_string(config_.sender_reason_max_bytes) +
                     " bytes");
  AuditQuery rq;
  rq.message_id = item.id;
  rq.action = "sender-reason";
  rq.limit = static_cast<std::size_t>(config_.sender_reasons_max) + 1;
  if (store_.audit_page(rq).size() >= static_cast<std::size_t>(config_.sender_reasons_max))
    throw DecisionConflict("this message has as many reasons as it can take");
  store_.audit(sender_actor(item), "sender-reason", item.id, r);
}

}  // namespace pm
