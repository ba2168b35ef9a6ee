#include "review/config.h"

#include <spdlog/spdlog.h>
#include <toml++/toml.h>

#include "util/error.h"
#include "util/toml_read.h"

namespace pm {

namespace {

int line_of(const toml::node* n) {
  return toml_line(n);
}

std::vector<std::string> strings(const std::string& file, const toml::table& t, const char* key) {
  return toml_strings(file, t.get(key), key);
}

void positive(const std::string& file, const toml::table& t, const char* key, int& into) {
  const toml::node* n = t.get(key);
  if (!n) return;
  auto v = n->value<std::int64_t>();
  if (!v || *v <= 0 || *v > 1000000)
    throw ConfigError(file, line_of(n), std::string(key) + " must be a positive integer");
  into = static_cast<int>(*v);
}

std::string text(const std::string& file, const toml::table& t, const char* key,
                 const std::string& def) {
  const toml::node* n = t.get(key);
  if (!n) return def;
  auto v = n->value<std::string>();
  if (!v) throw ConfigError(file, line_of(n), std::string(key) + " must be a string");
  return *v;
}

}  // namespace

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
    c.quarantine_dir = resolve(text(file, *q, "dir", c.quarantine_dir.string()));
    c.store.backend = text(file, *q, "backend", c.store.backend);
    c.store.dsn = text(file, *q, "dsn", c.store.dsn);
    int n = static_cast<int>(c.store.pg_connections);
    positive(file, *q, "pg_connections", n);
    c.store.pg_connections = static_cast<unsigned>(n);
    int ms = static_cast<int>(c.store.pg_query_timeout.count());
    positive(file, *q, "pg_query_timeout_ms", ms);
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
    return c;
  }
  std::string listen = text(file, *r, "listen", "127.0.0.1:8025");
  try {
    auto ep = parse_smtp_endpoint(listen);  // same host:port syntax
    c.listen_host = ep.host;
    c.listen_port = ep.port;
  } catch (const std::invalid_argument& e) {
    throw ConfigError(file, line_of(r->get("listen")), std::string("listen: ") + e.what());
  }
  try {
    c.reinject = parse_smtp_endpoint(text(file, *r, "reinject", "127.0.0.1:10026"));
  } catch (const std::invalid_argument& e) {
    throw ConfigError(file, line_of(r->get("reinject")), std::string("reinject: ") + e.what());
  }
  positive(file, *r, "session_minutes", c.session_minutes);
  positive(file, *r, "session_max_hours", c.session_max_hours);
  positive(file, *r, "signin_free_attempts", c.signin_free_attempts);
  // Replaced in 0.2 by growing delays (no hard lock-out): still read for one release.
  if (const toml::node* old = r->get("signin_attempts")) {
    if (!r->get("signin_free_attempts")) positive(file, *r, "signin_attempts", c.signin_free_attempts);
    spdlog::warn("{}:{}: review.signin_attempts is deprecated: use signin_free_attempts",
                 file, line_of(old));
  }
  if (const toml::node* old = r->get("signin_lockout_minutes"))
    spdlog::warn("{}:{}: review.signin_lockout_minutes is ignored: failed sign-ins now get "
                 "growing delays up to signin_max_delay_seconds",
                 file, line_of(old));
  positive(file, *r, "signin_max_delay_seconds", c.signin_max_delay_seconds);
  positive(file, *r, "max_connections", c.max_connections);
  positive(file, *r, "max_connections_per_client", c.max_connections_per_client);
  positive(file, *r, "request_deadline_seconds", c.request_deadline_seconds);
  positive(file, *r, "max_header_bytes", c.max_header_bytes);
  positive(file, *r, "max_headers", c.max_headers);
  positive(file, *r, "claim_timeout_seconds", c.claim_timeout_seconds);
  c.trusted_proxies = strings(file, *r, "trusted_proxies");
  c.allowed_hosts = strings(file, *r, "allowed_hosts");
  c.head_teacher_names = strings(file, *r, "head_teacher_names");
  c.chair_names = strings(file, *r, "chair_names");
  if (r->get("fallback_reviewers")) c.fallback_reviewers = strings(file, *r, "fallback_reviewers");
  positive(file, *r, "digest_minutes", c.digest_minutes);
  std::string mode = text(file, *r, "reviewer_notices", "immediate");
  if (mode != "immediate" && mode != "digest")
    throw ConfigError(file, line_of(r->get("reviewer_notices")),
                      "reviewer_notices must be \"immediate\" or \"digest\"");
  c.digest = mode == "digest";
  c.notice_from = text(file, *r, "notice_from", c.notice_from);
  c.reviewer_title = text(file, *r, "reviewer_title", c.reviewer_title);
  c.users_db = resolve(text(file, *r, "users_db", c.users_db.string()));
  c.tls_cert = resolve(text(file, *r, "tls_cert", ""));
  c.tls_key = resolve(text(file, *r, "tls_key", ""));
  if (c.tls_cert.empty() != c.tls_key.empty())
    throw ConfigError(file, line_of(r), "tls_cert and tls_key go together");
  std::string scheme = c.tls_cert.empty() ? "http" : "https";
  c.public_url_set = r->get("public_url") != nullptr;
  c.public_url = text(file, *r, "public_url",
                      scheme + "://" + c.listen_host + ":" + std::to_string(c.listen_port) + "/");
  if (const toml::table* ret = (*r)["retention"].as_table()) {
    positive(file, *ret, "held_days", c.held_days);
    positive(file, *ret, "decided_days", c.decided_days);
  }
  if (const toml::node* routes = r->get("routes")) {
    const toml::array* arr = routes->as_array();
    if (!arr)
      throw ConfigError(file, line_of(routes),
                        "routes must be an array of tables ([[review.routes]])");
    for (const auto& e : *arr) {
      const toml::table* t = e.as_table();
      if (!t) throw ConfigError(file, line_of(&e), "each route must be a table");
      ReviewRoute route;
      route.name = text(file, *t, "name", "route " + std::to_string(c.routes.size() + 1));
      route.categories = strings(file, *t, "categories");
      route.terms = strings(file, *t, "terms");
      route.reviewers = strings(file, *t, "reviewers");
      route.exclude = strings(file, *t, "exclude");
      if (route.reviewers.empty())
        throw ConfigError(file, line_of(t), "route \"" + route.name + "\" names no reviewers");
      // {head} / {chair}: one term per configured name.
      std::vector<std::string> terms;
      for (const auto& term : route.terms) {
        const std::vector<std::string>* names = term == "{head}"    ? &c.head_teacher_names
                                                : term == "{chair}" ? &c.chair_names
                                                                    : nullptr;
        if (names)
          terms.insert(terms.end(), names->begin(), names->end());
        else
          terms.push_back(term);
      }
      for (auto& term : terms)
        for (char& ch : term) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      route.terms = std::move(terms);
      c.routes.push_back(std::move(route));
    }
  }
  return c;
}

}  // namespace pm
