#include "review/service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <set>

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

ReviewService::ReviewService(ReviewConfig config, QuarantineBackend& store, UserStore& users)
    : config_(std::move(config)), store_(store), users_(users) {}

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
  for (const auto& r : config_.routes) {
    bool cat_ok = r.categories.empty() || intersects(r.categories, item.categories);
    bool term_ok = r.terms.empty();
    for (const auto& t : r.terms) term_ok = term_ok || has_term(hay, t);
    if (cat_ok && term_ok)
      return {{"name", r.name}, {"reviewers", r.reviewers}, {"exclude", r.exclude}};
  }
  return {{"name", ""}, {"reviewers", json::array()}, {"exclude", json::array()}};
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
  auto eligible = [&](const Account& a) { return !is_sender(a, item) && !names(exclude, a); };
  for (const auto& a : accounts) {
    if (!eligible(a)) continue;
    bool in = reviewers.empty() ? a.categories.empty() || intersects(a.categories, item.categories)
                                : names(reviewers, a);
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
  if (!item || item->status == QuarantineStatus::deleted || !may_review(a, *item))
    throw NotFound("no such message");
  return *item;
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
          {"state", to_string(item.status)}};
}

json ReviewService::recipients(const QuarantineItem& item, const json& verdict) {
  std::map<std::string, std::string> cls_of;
  if (verdict.contains("recipients"))
    for (const auto& r : verdict["recipients"])
      cls_of[lower(r.value("address", ""))] = r.value("class", "");
  json out = json::array();
  for (const auto& addr : item.recipients) {
    std::string a = lower(addr);
    std::string cls =
        cls_of.count(a) ? cls_of[a] : to_string(classify_recipient(a, config_.engine.domains));
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
      for (const auto& s : config_.engine.domains.staff)
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

json ReviewService::list(const Account& a, const QuarantineFilter& f) {
  json out = json::array();
  std::int64_t now = now_s();
  const auto accounts = users_.list();
  for (auto& item : store_.list(f)) {
    if (item.status == QuarantineStatus::deleted) continue;
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
  d["claim"] = item.claim;
  d["claim_by"] = item.claim_by;
  return d;
}

NoticeSettings ReviewService::notice_settings() const {
  NoticeSettings s;
  s.school_name = config_.engine.school_name.empty() ? "the school" : config_.engine.school_name;
  s.from = config_.notice_from;
  s.review_url = config_.public_url;
  s.reviewer_title = config_.reviewer_title;
  return s;
}

bool ReviewService::send(const Notice& n, const std::string& message_id) {
  if (n.to.empty()) return true;
  try {
    smtp_send(config_.reinject, SmtpEnvelope{config_.notice_from, n.to},
              n.render(notice_settings()), 30);
    return true;
  } catch (const SmtpError& e) {
    spdlog::warn("notice for {} not sent: {}", message_id, log_value(e.what()));
    store_.audit("policy-review", "notice-failed", message_id, e.what());
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
    std::string header =
        "X-Policy-Released-By: " + printable(actor, 128) + " (quarantine " + id + "); " + when + eol;
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
  send(sender_outcome_notice(notice_settings(), *item,
                             full ? Outcome::released : Outcome::released_partial, rcpts, note,
                             quote),
       id);
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
  send(sender_outcome_notice(notice_settings(), *item, Outcome::refused, {}, note, quote), id);
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
  store_.record_dismissal(id, actor, rule, context, note);
}

json ReviewService::audit(const Account& a, AuditQuery q) {
  const std::size_t want = std::clamp<std::size_t>(q.limit, 1, 1000);
  const bool all = a.role == Role::admin;
  const auto accounts = all ? std::vector<Account>{} : users_.list();
  std::map<std::string, bool> visible;  // message id -> in a's scope
  auto in_scope = [&](const AuditEntry& e) {
    if (all) return true;
    if (e.message_id.empty()) return e.actor == a.login;  // one's own sign-ins and sign-outs
    auto it = visible.find(e.message_id);
    if (it != visible.end()) return it->second;
    auto item = store_.get(e.message_id);
    bool ok = item && item->status != QuarantineStatus::deleted &&
              contains(reviewer_logins(*item, accounts), a.login);
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
  json out = json::array();
  for (const auto& d : store_.dismissals(limit))
    out.push_back({{"seq", d.seq},
                   {"at", d.at},
                   {"actor", d.actor},
                   {"message_id", d.message_id},
                   {"rule", d.rule},
                   {"context", d.context},
                   {"note", d.note}});
  return out;
}

Housekeeping ReviewService::send_notices(std::int64_t now, bool force_digest) {
  Housekeeping h;
  NoticeSettings ns = notice_settings();
  // Routes are decided while the text is there; a decider that died mid-release frees
  // its claim after claim_timeout_seconds.
  assign_routes();
  store_.expire_claims(now - config_.claim_timeout_seconds);
  // 1. Senders: "held, which clause, the head teacher will review".
  for (const auto& item : store_.held_without_notice("sender-held")) {
    if (!store_.claim_notice(item.id, "sender-held")) continue;
    if (item.sender.empty()) continue;  // a bounce: nobody to tell
    auto [clauses, quote] = clauses_of(verdict_of(item.id));
    if (send(sender_held_notice(ns, item, clauses, quote), item.id)) {
      ++h.sender_notices;
    } else {
      store_.unclaim_notice(item.id, "sender-held");
      ++h.failures;
    }
  }
  // 2. Reviewers: partner mail at once (urgent); the rest immediately or as a digest.
  std::map<std::string, std::vector<HeldSummary>> digest;  // reviewer e-mail -> items
  bool digest_due = force_digest || now - last_digest_ >= config_.digest_minutes * 60;
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
      if (!digest_due) continue;
      for (const auto& e : emails) digest[e].push_back(hs);
      store_.claim_notice(item.id, "reviewer");
      continue;
    }
    if (!store_.claim_notice(item.id, "reviewer")) continue;
    if (send(reviewer_alert(ns, emails, {hs}, urgent, now), item.id)) {
      h.reviewer_notices += emails.empty() ? 0 : 1;
      if (urgent)
        store_.audit("policy-review", "partner-alert", item.id,
                     std::to_string(emails.size()) + " reviewers");
    } else {
      store_.unclaim_notice(item.id, "reviewer");
      ++h.failures;
    }
  }
  if (config_.digest && digest_due) {
    last_digest_ = now;
    for (const auto& [email, items] : digest) {
      if (send(reviewer_alert(ns, {email}, items, false, now), items.front().item.id))
        ++h.reviewer_notices;
      else
        ++h.failures;
    }
  }
  return h;
}

Housekeeping ReviewService::retention(std::int64_t now) {
  Housekeeping h;
  NoticeSettings ns = notice_settings();
  QuarantineFilter old;
  old.status = QuarantineStatus::held;
  old.until = now - static_cast<std::int64_t>(config_.held_days) * 86400;
  old.limit = 100000;
  const std::string actor = "policy-review (retention)";
  const std::string why = "not decided within " + std::to_string(config_.held_days) + " days";
  for (const auto& item : store_.list(old)) {
    auto [clauses, quote] = clauses_of(verdict_of(item.id));
    std::vector<std::string> emails;
    for (const auto& a : reviewers_of(item))
      if (!a.email.empty()) emails.push_back(a.email);
    try {
      store_.refuse(item.id, actor, why);
    } catch (const std::invalid_argument&) {
      continue;  // decided meanwhile by someone else
    }
    ++h.expired;
    if (!item.sender.empty() &&
        !send(sender_outcome_notice(ns, item, Outcome::expired, {}, "", quote), item.id))
      ++h.failures;
    Notice rn;
    rn.to = emails;
    rn.subject = "Held mail refused automatically";
    rn.body = "Hello,\n\nThe held message " + item.id + " from " + item.sender + " (categories: " +
              [&] {
                std::string s;
                for (const auto& c : item.categories) s += (s.empty() ? "" : ", ") + c;
                return s;
              }() +
              ") was " + why +
              ", so it has been refused and deleted, and the sender has been told.\n";
    if (!send(rn, item.id)) ++h.failures;
  }
  h.purged = static_cast<int>(
      store_.purge_decided(now - static_cast<std::int64_t>(config_.decided_days) * 86400, actor)
          .size());
  return h;
}

}  // namespace pm
