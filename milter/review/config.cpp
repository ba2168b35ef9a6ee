#include "review/config.h"

#include <spdlog/spdlog.h>
#include <toml++/toml.h>

#include <cstdio>
#include <optional>
#include "config/schema.h"

#include "util/error.h"
#include "util/toml_read.h"

namespace pm {

namespace {

int line_of(const toml::node* n) {
  return toml_line(n);
}

// Each reader names the key's table: only keys of the schema are read (config/schema.h).
std::vector<std::string> strings(const std::string& file, const char* table, const toml::table& t,
                                 const char* key) {
  config::require_key(table, key);
  return toml_strings(file, t.get(key), key);
}

void positive(const std::string& file, const char* table, const toml::table& t, const char* key,
              int& into) {
  config::require_key(table, key);
  const toml::node* n = t.get(key);
  if (!n) return;
  auto v = n->value<std::int64_t>();
  if (!v || *v <= 0 || *v > 1000000)
    throw ConfigError(file, line_of(n), std::string(key) + " must be a positive integer");
  into = static_cast<int>(*v);
}

std::string text(const std::string& file, const char* table, const toml::table& t, const char* key,
                 const std::string& def) {
  config::require_key(table, key);
  const toml::node* n = t.get(key);
  if (!n) return def;
  auto v = n->value<std::string>();
  if (!v) throw ConfigError(file, line_of(n), std::string(key) + " must be a string");
  return *v;
}

// A list of tables (term_dates, [[review.routes]]); absent -> empty.
std::vector<const toml::table*> tables(const std::string& file, const toml::node* n,
                                       const std::string& not_list, const std::string& not_table) {
  std::vector<const toml::table*> out;
  if (!n) return out;
  const toml::array* arr = n->as_array();
  if (!arr) throw ConfigError(file, line_of(n), not_list);
  for (const auto& e : *arr) {
    const toml::table* t = e.as_table();
    if (!t) throw ConfigError(file, line_of(&e), not_table);
    out.push_back(t);
  }
  return out;
}

// A term boundary: a TOML date (2026-09-03) or the same as a string ("2026-09-03").
std::int64_t term_day(const std::string& file, const toml::table& t, const char* key) {
  const toml::node* n = t.get(key);
  if (!n) throw ConfigError(file, line_of(&t), std::string("a term needs ") + key);
  std::optional<toml::date> d = n->value<toml::date>();
  if (!d) {
    unsigned y = 0, m = 0, day = 0;
    char extra = 0;
    auto s = n->value<std::string>();
    if (s && std::sscanf(s->c_str(), "%4u-%2u-%2u%c", &y, &m, &day, &extra) == 3 && m >= 1 &&
        m <= 12 && day >= 1 && day <= 31)
      d = toml::date{static_cast<std::uint16_t>(y), static_cast<std::uint8_t>(m),
                     static_cast<std::uint8_t>(day)};
  }
  if (!d)
    throw ConfigError(file, line_of(n), std::string(key) + " must be a date, e.g. 2026-09-03");
  return days_from_civil(d->year, d->month, d->day);
}

// [review.cover]: deputies, escalation and school-day refusal (issue 13).
void load_cover(const std::string& file, const toml::table& cover, ReviewConfig& c) {
  const toml::node* esc = cover.get("escalate_after_hours");
  if (esc && esc->value<std::int64_t>().value_or(-1) == 0) {
    c.escalate_after_hours = 0;  // explicitly off
  } else {
    positive(file, "review.cover", cover, "escalate_after_hours", c.escalate_after_hours);
  }
  const toml::node* ref = cover.get("refuse_after_school_days");
  if (!(ref && ref->value<std::int64_t>().value_or(-1) == 0))
    positive(file, "review.cover", cover, "refuse_after_school_days", c.refuse_after_school_days);
  c.deputies = strings(file, "review.cover", cover, "deputies");
  for (const toml::table* t : tables(file, cover.get("term_dates"),
                                     "term_dates must be a list of {start = DATE, end = DATE}",
                                     "each term must be {start = DATE, end = DATE}")) {
    Term term{term_day(file, *t, "start"), term_day(file, *t, "end")};
    if (term.last < term.first) throw ConfigError(file, line_of(t), "a term ends before it starts");
    c.calendar.terms.push_back(term);
  }
  if (c.refuse_after_school_days > 0 && c.calendar.terms.empty())
    throw ConfigError(file, line_of(ref),
                      "refuse_after_school_days needs term_dates (school days are term days)");
}

// [trust] name and [[schools]] (issue 15): the ids, names and staff domains the engine
// reads too, and the review-side overrides; an omitted override takes [review]'s value.
void load_schools(const std::string& file, const toml::table& root, ReviewConfig& c) {
  if (const toml::table* t = root["trust"].as_table())
    c.trust_name = text(file, "trust", *t, "name", "");
  for (const toml::table* t :
       tables(file, root.get("schools"), "schools must be an array of tables ([[schools]])",
              "each school must be a table")) {
    ReviewSchool s;
    s.id = text(file, "schools", *t, "id", "");
    if (!valid_school_id(s.id))
      throw ConfigError(file, line_of(t->get("id") ? t->get("id") : t),
                        "a school's id must match ^[a-z0-9][a-z0-9-]{0,31}$");
    if (c.school(s.id))
      throw ConfigError(file, line_of(t->get("id")), "school id \"" + s.id + "\" is listed twice");
    s.name = text(file, "schools", *t, "name", s.id);
    s.staff_domains = strings(file, "schools", *t, "staff_domains");
    if (s.staff_domains.empty()) s.staff_domains = c.engine.domains.staff;
    s.notice_from = text(file, "schools", *t, "notice_from", c.notice_from);
    s.reviewer_title = text(file, "schools", *t, "reviewer_title", c.reviewer_title);
    s.head_teacher_names = t->get("head_teacher_names")
                               ? strings(file, "schools", *t, "head_teacher_names")
                               : c.head_teacher_names;
    s.chair_names =
        t->get("chair_names") ? strings(file, "schools", *t, "chair_names") : c.chair_names;
    c.schools.push_back(std::move(s));
  }
}

}  // namespace

bool valid_school_id(std::string_view id) {
  if (id.empty() || id.size() > 32) return false;
  for (std::size_t i = 0; i < id.size(); ++i) {
    char ch = id[i];
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || (i > 0 && ch == '-');
    if (!ok) return false;
  }
  return true;
}

const ReviewSchool* ReviewConfig::school(std::string_view id) const {
  for (const auto& s : schools)
    if (s.id == id) return &s;
  return nullptr;
}

std::vector<std::string> route_terms(const std::vector<std::string>& written,
                                     const std::vector<std::string>& head_teacher_names,
                                     const std::vector<std::string>& chair_names) {
  std::vector<std::string> terms;
  for (const auto& term : written) {
    const std::vector<std::string>* names = term == "{head}"    ? &head_teacher_names
                                            : term == "{chair}" ? &chair_names
                                                                : nullptr;
    if (names)
      terms.insert(terms.end(), names->begin(), names->end());
    else
      terms.push_back(term);
  }
  for (auto& term : terms)
    for (char& ch : term) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return terms;
}

ReviewConfig load_review_config(const std::filesystem::path& path) {
  ReviewConfig c;
  c.file = path;
  c.engine = load_config(path);  // [school], [recipients]; throws ConfigError
  const std::string file = path.string();
  toml::table root;
  try {
    root = toml::parse_file(file);
  } catch (const toml::parse_error& e) {
    throw ConfigError(file, static_cast<int>(e.source().begin.line), std::string(e.description()));
  }
  auto base = path.parent_path();
  auto resolve = [&](const std::string& p) -> std::filesystem::path {
    if (p.empty()) return {};
    std::filesystem::path q(p);
    return q.is_absolute() ? q : base / q;
  };
  if (const toml::table* q = root["quarantine"].as_table()) {
    c.quarantine_dir = resolve(text(file, "quarantine", *q, "dir", c.quarantine_dir.string()));
    c.store.backend = text(file, "quarantine", *q, "backend", c.store.backend);
    c.store.dsn = text(file, "quarantine", *q, "dsn", c.store.dsn);
    int n = static_cast<int>(c.store.pg_connections);
    positive(file, "quarantine", *q, "pg_connections", n);
    c.store.pg_connections = static_cast<unsigned>(n);
    int ms = static_cast<int>(c.store.pg_query_timeout.count());
    positive(file, "quarantine", *q, "pg_query_timeout_ms", ms);
    c.store.pg_query_timeout = std::chrono::milliseconds(ms);
    try {
      validate_store_config(c.store);
    } catch (const std::invalid_argument& e) {
      throw ConfigError(file, line_of(q->get("backend")), e.what());
    }
  }
  c.store.dir = c.quarantine_dir;
  const toml::table* r = root["review"].as_table();
  if (!r) {
    c.public_url = "http://" + c.listen_host + ":" + std::to_string(c.listen_port) + "/";
    load_schools(file, root, c);
    return c;
  }
  std::string listen = text(file, "review", *r, "listen", "127.0.0.1:8025");
  try {
    auto ep = parse_smtp_endpoint(listen);  // same host:port syntax
    c.listen_host = ep.host;
    c.listen_port = ep.port;
  } catch (const std::invalid_argument& e) {
    throw ConfigError(file, line_of(r->get("listen")), std::string("listen: ") + e.what());
  }
  try {
    c.reinject = parse_smtp_endpoint(text(file, "review", *r, "reinject", "127.0.0.1:10026"));
  } catch (const std::invalid_argument& e) {
    throw ConfigError(file, line_of(r->get("reinject")), std::string("reinject: ") + e.what());
  }
  positive(file, "review", *r, "session_minutes", c.session_minutes);
  positive(file, "review", *r, "session_max_hours", c.session_max_hours);
  positive(file, "review", *r, "signin_free_attempts", c.signin_free_attempts);
  // Replaced in 0.2 by growing delays (no hard lock-out): still read for one release.
  if (const toml::node* old = r->get("signin_attempts")) {
    if (!r->get("signin_free_attempts"))
      positive(file, "review", *r, "signin_attempts", c.signin_free_attempts);
    spdlog::warn("{}:{}: review.signin_attempts is deprecated: use signin_free_attempts", file,
                 line_of(old));
  }
  if (const toml::node* old = r->get("signin_lockout_minutes"))
    spdlog::warn(
        "{}:{}: review.signin_lockout_minutes is ignored: failed sign-ins now get "
        "growing delays up to signin_max_delay_seconds",
        file, line_of(old));
  positive(file, "review", *r, "signin_max_delay_seconds", c.signin_max_delay_seconds);
  positive(file, "review", *r, "max_connections", c.max_connections);
  positive(file, "review", *r, "max_connections_per_client", c.max_connections_per_client);
  positive(file, "review", *r, "request_deadline_seconds", c.request_deadline_seconds);
  positive(file, "review", *r, "max_header_bytes", c.max_header_bytes);
  positive(file, "review", *r, "max_headers", c.max_headers);
  positive(file, "review", *r, "claim_timeout_seconds", c.claim_timeout_seconds);
  c.trusted_proxies = strings(file, "review", *r, "trusted_proxies");
  c.allowed_hosts = strings(file, "review", *r, "allowed_hosts");
  c.head_teacher_names = strings(file, "review", *r, "head_teacher_names");
  c.chair_names = strings(file, "review", *r, "chair_names");
  if (r->get("fallback_reviewers"))
    c.fallback_reviewers = strings(file, "review", *r, "fallback_reviewers");
  positive(file, "review", *r, "digest_minutes", c.digest_minutes);
  std::string mode = text(file, "review", *r, "reviewer_notices", "immediate");
  if (mode != "immediate" && mode != "digest")
    throw ConfigError(file, line_of(r->get("reviewer_notices")),
                      "reviewer_notices must be \"immediate\" or \"digest\"");
  c.digest = mode == "digest";
  c.notice_from = text(file, "review", *r, "notice_from", c.notice_from);
  c.reviewer_title = text(file, "review", *r, "reviewer_title", c.reviewer_title);
  c.users_db = resolve(text(file, "review", *r, "users_db", c.users_db.string()));
  c.tls_cert = resolve(text(file, "review", *r, "tls_cert", ""));
  c.tls_key = resolve(text(file, "review", *r, "tls_key", ""));
  if (c.tls_cert.empty() != c.tls_key.empty())
    throw ConfigError(file, line_of(r), "tls_cert and tls_key go together");
  std::string scheme = c.tls_cert.empty() ? "http" : "https";
  c.public_url_set = r->get("public_url") != nullptr;
  c.public_url = text(file, "review", *r, "public_url",
                      scheme + "://" + c.listen_host + ":" + std::to_string(c.listen_port) + "/");
  positive(file, "review", *r, "sender_link_days", c.sender_link_days);
  positive(file, "review", *r, "sender_reason_max_bytes", c.sender_reason_max_bytes);
  positive(file, "review", *r, "sender_reasons_max", c.sender_reasons_max);
  if (const toml::table* cover = (*r)["cover"].as_table()) load_cover(file, *cover, c);
  if (const toml::table* ret = (*r)["retention"].as_table()) {
    positive(file, "review.retention", *ret, "held_days", c.held_days);
    positive(file, "review.retention", *ret, "decided_days", c.decided_days);
    positive(file, "review.retention", *ret, "monitor_days", c.monitor_days);  // monitor evidence
  }
  for (const toml::table* t :
       tables(file, r->get("routes"), "routes must be an array of tables ([[review.routes]])",
              "each route must be a table")) {
    ReviewRoute route;
    route.name =
        text(file, "review.routes", *t, "name", "route " + std::to_string(c.routes.size() + 1));
    route.categories = strings(file, "review.routes", *t, "categories");
    route.terms = strings(file, "review.routes", *t, "terms");
    route.reviewers = strings(file, "review.routes", *t, "reviewers");
    route.exclude = strings(file, "review.routes", *t, "exclude");
    route.deputies = strings(file, "review.routes", *t, "deputies");
    if (route.reviewers.empty())
      throw ConfigError(file, line_of(t), "route \"" + route.name + "\" names no reviewers");
    // {head} / {chair}: one term per configured name.
    for (const auto& term : route.terms) {
      std::string w = term;
      for (char& ch : w) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      route.written_terms.push_back(w);
    }
    route.terms = route_terms(route.terms, c.head_teacher_names, c.chair_names);
    c.routes.push_back(std::move(route));
  }
  load_schools(file, root, c);
  return c;
}

}  // namespace pm
