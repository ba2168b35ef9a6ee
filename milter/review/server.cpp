#include "review/server.h"

#include <httplib.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <ctime>

#include "review/assets.h"
#include "review/http_front.h"
#include "review/totp.h"
#include "util/printable.h"
#include "util/strings.h"

namespace pm {

using nlohmann::json;

namespace {

constexpr const char* kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
// Under TLS the cookie carries the __Host- prefix (Secure, Path=/, no Domain: no other
// host or subdomain can set or shadow it); plain HTTP on a LAN keeps a plain name,
// because browsers drop __Host- cookies that are not Secure.
constexpr const char* kCookie = "pm_review";
constexpr const char* kHostCookie = "__Host-pm_review";

std::int64_t now_s() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

void reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace),
                  "application/json; charset=utf-8");
}
void error(httplib::Response& res, int status, const std::string& msg) {
  reply(res, status, {{"error", msg}});
}

std::string cookie_value(const httplib::Request& req, const std::string& name) {
  std::string all = req.get_header_value("Cookie");
  std::size_t pos = 0;
  while (pos < all.size()) {
    std::size_t end = all.find(';', pos);
    if (end == std::string::npos) end = all.size();
    std::string part = all.substr(pos, end - pos);
    while (!part.empty() && part.front() == ' ') part.erase(0, 1);
    if (part.rfind(name + "=", 0) == 0) return part.substr(name.size() + 1);
    pos = end + 1;
  }
  return "";
}

bool same(const std::string& a, const std::string& b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

// `recipients` of a release: missing = every held recipient; otherwise a non-empty list
// of strings (whether each is held, the service checks), anything else a BadRequest.
std::optional<std::vector<std::string>> recipients_of(const json& body) {
  if (!body.contains("recipients")) return std::nullopt;
  const json& j = body["recipients"];
  const char* what =
      "recipients must be a non-empty list of held addresses (leave it out to release to all)";
  if (!j.is_array() || j.empty()) throw BadRequest(what);
  std::vector<std::string> out;
  for (const auto& e : j) {
    if (!e.is_string() || e.get_ref<const std::string&>().empty()) throw BadRequest(what);
    out.push_back(e.get<std::string>());
  }
  return out;
}

// host[:port] of a URL ("https://review.example:8443/x" -> "review.example:8443").
std::string url_host(const std::string& url) {
  auto p = url.find("://");
  if (p == std::string::npos) return "";
  std::string rest = url.substr(p + 3);
  return rest.substr(0, rest.find_first_of("/?#"));
}

std::string lower_ascii(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// "host:port" -> "host" (IPv6 in brackets kept whole).
std::string strip_port(const std::string& h) {
  if (!h.empty() && h.front() == '[') return h.substr(0, h.find(']') + 1);
  auto c = h.rfind(':');
  return c == std::string::npos ? h : h.substr(0, c);
}

// A note from a reviewer ends up in a notice: keep it one short paragraph.
std::string clean_note(const json& body) {
  std::string n = body.value("note", "");
  if (n.size() > 2000) n.resize(2000);
  for (char& c : n)
    if (c == '\r' || c == '\t') c = ' ';
  return n;
}

}  // namespace

FrontLimits front_limits(const ReviewConfig& c) {
  FrontLimits l;
  l.max_connections = c.max_connections;
  l.max_connections_per_client = c.max_connections_per_client;
  l.request_deadline_seconds = c.request_deadline_seconds;
  l.max_header_bytes = c.max_header_bytes;
  l.max_headers = c.max_headers;
  l.unlimited_clients = c.trusted_proxies;
  return l;
}

// A signed-in request: the session and the account as it is *now* in the accounts file.
struct Signed {
  Session session;
  Account account;
};

struct ReviewServer::Impl {
  ReviewService& service;
  UserStore& users;
  SessionTable sessions;
  Throttle throttle;
  bool tls;     // this process serves HTTPS
  bool secure;  // the browser sees HTTPS (here, or at a proxy: public_url is https)
  std::vector<std::string> hosts;  // Host values accepted (lower case, without port)
  std::unique_ptr<HttpFront> http;

  Impl(ReviewService& s, UserStore& u)
      : service(s),
        users(u),
        sessions(std::chrono::minutes(s.config().session_minutes),
                 std::chrono::hours(s.config().session_max_hours)),
        throttle(s.config().signin_free_attempts,
                 std::chrono::seconds(s.config().signin_max_delay_seconds)),
        tls(!s.config().tls_cert.empty()),
        secure(tls || s.config().public_url.rfind("https://", 0) == 0) {
    const auto& c = s.config();
    http = std::make_unique<HttpFront>(front_limits(c), c.tls_cert.string(), c.tls_key.string());
    hosts = {"localhost", "127.0.0.1", "[::1]"};
    if (c.listen_host != "0.0.0.0" && c.listen_host != "::" && !c.listen_host.empty())
      hosts.push_back(lower_ascii(c.listen_host));
    if (auto h = url_host(c.public_url); !h.empty()) hosts.push_back(lower_ascii(strip_port(h)));
    for (const auto& h : c.allowed_hosts) hosts.push_back(lower_ascii(strip_port(h)));
    routes();
  }

  const char* cookie_name() const { return secure ? kHostCookie : kCookie; }

  std::string set_cookie(const std::string& value, std::int64_t max_age) const {
    return std::string(cookie_name()) + "=" + value +
           "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age) +
           (secure ? "; Secure" : "");
  }

  bool trusted_proxy(const std::string& addr) const {
    for (const auto& p : service.config().trusted_proxies)
      if (p == addr) return true;
    return false;
  }

  // The client's address: the peer, or - when the peer is a trusted proxy - the last
  // X-Forwarded-For entry that is not itself a trusted proxy.
  std::string client_of(const httplib::Request& req) const {
    std::string addr = req.remote_addr;
    if (!trusted_proxy(addr)) return addr;
    std::string xff = req.get_header_value("X-Forwarded-For");
    while (!xff.empty()) {
      auto comma = xff.rfind(',');
      std::string last(
          trim(std::string_view(xff).substr(comma == std::string::npos ? 0 : comma + 1)));
      xff.resize(comma == std::string::npos ? 0 : comma);
      if (last.empty()) continue;
      if (!trusted_proxy(last)) return last.substr(0, 64);
    }
    return addr;
  }

  bool host_ok(const httplib::Request& req) const {
    std::string h = lower_ascii(strip_port(req.get_header_value("Host")));
    for (const auto& a : hosts)
      if (h == a) return true;
    return false;
  }

  // A state change from another site: refused whatever the cookie says.
  bool cross_site(const httplib::Request& req) const {
    std::string site = req.get_header_value("Sec-Fetch-Site");
    if (!site.empty() && site != "same-origin" && site != "none") return true;
    std::string origin = req.get_header_value("Origin");
    if (origin.empty()) return false;
    std::string oh = lower_ascii(strip_port(url_host(origin)));
    for (const auto& a : hosts)
      if (oh == a) return false;
    return true;
  }

  // The session and the account for a request, or an answer already written (401/403).
  // The account is re-read on every request: removed, or changed since the session began
  // (role, password, second factor, duties) -> every session of it ends.
  std::optional<Signed> session(const httplib::Request& req, httplib::Response& res,
                                bool state_change, std::optional<Role> need = std::nullopt) {
    auto s = sessions.find(cookie_value(req, cookie_name()), now_s());
    if (!s) {
      error(res, 401, "please sign in");
      return std::nullopt;
    }
    auto a = users.find(s->login);
    if (!a || a->generation != s->generation) {
      sessions.drop_login(s->login);
      error(res, 401, a ? "your account changed: please sign in again" : "account removed");
      return std::nullopt;
    }
    if (state_change && !same(req.get_header_value("X-CSRF-Token"), s->csrf)) {
      error(res, 403, "missing or wrong CSRF token");
      return std::nullopt;
    }
    // it-admin is the admin of every school: what needs the admin role, it may do.
    if (need && a->role != *need && !(*need == Role::admin && is_admin(a->role))) {
      error(res, 403, "this needs the " + std::string(to_string(*need)) + " role");
      return std::nullopt;
    }
    return Signed{*s, *a};
  }

  static std::optional<json> body(const httplib::Request& req, httplib::Response& res) {
    if (req.get_header_value("Content-Type").rfind("application/json", 0) != 0) {
      error(res, 415, "send JSON");
      return std::nullopt;
    }
    json j = json::parse(req.body.empty() ? "{}" : req.body, nullptr, false);
    if (!j.is_object()) {
      error(res, 400, "malformed JSON");
      return std::nullopt;
    }
    return j;
  }

  // A decision on one message: session + CSRF + scope, then `act`.
  template <class F>
  void decide(const httplib::Request& req, httplib::Response& res, F act,
              std::optional<Role> need = std::nullopt) {
    auto b = body(req, res);
    if (!b) return;
    auto s = session(req, res, true, need);
    if (!s) return;
    const Account& a = s->account;
    std::string id = req.matches[1];
    try {
      service.require(a, id);
      reply(res, 200, act(a, id, *b));
    } catch (const NotFound&) {
      error(res, 404, "no such message");
    } catch (const BadRequest& e) {
      error(res, 400, e.what());
    } catch (const ReleaseFailed& e) {
      error(res, 502, e.what());
    } catch (const std::invalid_argument& e) {  // DecisionConflict and other "not now"
      error(res, 409, e.what());
    }
  }

  void routes() {
    auto& h = *http;
    h.set_payload_max_length(256 * 1024);
    httplib::Headers defaults = {{"Content-Security-Policy", kCsp},
                                 {"X-Content-Type-Options", "nosniff"},
                                 {"Referrer-Policy", "no-referrer"},
                                 {"X-Frame-Options", "DENY"},
                                 {"Cross-Origin-Opener-Policy", "same-origin"},
                                 {"Cache-Control", "no-store"}};
    if (secure) defaults.emplace("Strict-Transport-Security", "max-age=31536000");
    h.set_default_headers(defaults);
    // Before any route: the Host must be this service (DNS rebinding), and no state
    // change may come from another site (CSRF defence besides the token and SameSite).
    h.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!host_ok(req)) {
        error(res, 421,
              "this server does not answer for that host name (see [review] allowed_hosts)");
        return httplib::Server::HandlerResponse::Handled;
      }
      if (req.method != "GET" && req.method != "HEAD" && cross_site(req)) {
        error(res, 403, "cross-site request refused");
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    h.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
          try {
            std::rethrow_exception(ep);
          } catch (const std::exception& e) {
            spdlog::error("review: request failed: {}", log_value(e.what()));
          } catch (...) {
          }
          error(res, 500, "internal error (see the service log)");
        });

    for (const auto& asset : review_assets()) {
      std::string path = asset.path;
      h.Get(path, [asset](const httplib::Request&, httplib::Response& res) {
        res.set_content(std::string(asset.body), asset.content_type);
      });
    }

    h.Post("/api/login", [this](const httplib::Request& req, httplib::Response& res) {
      auto b = body(req, res);
      if (!b) return;
      auto str = [&](const char* k) {
        const json& v = (*b)[k];
        return v.is_string() ? v.get<std::string>() : std::string();
      };
      std::string login = str("login"), password = str("password"), code = str("totp");
      if (login.size() > 64) login.resize(64);  // no account has a longer login
      std::int64_t now = now_s();
      const std::string client = client_of(req);
      const std::string ip_key = "ip:" + client, login_key = "login:" + login;
      // Counted before the (slow) password check: parallel guesses cannot outrun it.
      std::int64_t wait = throttle.begin(ip_key, now);
      if (!wait) {
        wait = throttle.begin(login_key, now);
        if (wait) throttle.success(ip_key);  // this attempt did not happen
      }
      if (wait) {
        res.set_header("Retry-After", std::to_string(wait));
        error(res, 429, "too many failed sign-ins; try again in " + std::to_string(wait) + " s");
        return;
      }
      auto fail = [&](const char* why) {
        spdlog::warn("review: failed sign-in for \"{}\" from {} ({})", log_value(login),
                     log_value(client), why);
        service.store().audit(printable(login, 64), "sign-in-failed", "",
                              std::string(why) + " from " + printable(client, 64));
        error(res, 401, "wrong login, password or code");
      };
      auto a = users.verify(login, password);
      if (!a) return fail("password");
      if (!a->totp_secret.empty()) {
        if (code.empty()) {
          throttle.success(ip_key);
          throttle.success(login_key);
          reply(res, 401,
                {{"error", "enter the code from your authenticator app"}, {"totp_required", true}});
          return;  // not a failure: the password was right, the page now asks for the code
        }
        auto key = totp::base32_decode(a->totp_secret);
        auto step = key ? totp::verify_step(*key, code, now) : std::nullopt;
        if (!step) return fail("code");
        if (!users.accept_totp_step(a->login, *step)) return fail("code used before");
      }
      throttle.success(ip_key);
      throttle.success(login_key);
      Session s = sessions.create(*a, now);
      service.store().audit(a->login, "signed-in", "", "from " + printable(client, 64));
      res.set_header("Set-Cookie", set_cookie(s.token, sessions.absolute().count()));
      reply(res, 200,
            {{"login", s.login},
             {"role", to_string(a->role)},
             {"csrf", s.csrf},
             {"schools", service.session_info(*a)["schools"]}});
    });

    h.Post("/api/logout", [this](const httplib::Request& req, httplib::Response& res) {
      auto s = session(req, res, true);
      if (!s) return;
      sessions.drop(s->session.token);
      service.store().audit(s->account.login, "signed-out", "", "");
      res.set_header("Set-Cookie", set_cookie("", 0));
      reply(res, 200, {{"ok", true}});
    });

    h.Get("/api/session", [this](const httplib::Request& req, httplib::Response& res) {
      auto s = session(req, res, false);
      if (!s) return;
      json info = service.session_info(s->account);
      info["login"] = s->account.login;
      info["role"] = to_string(s->account.role);
      info["csrf"] = s->session.csrf;
      reply(res, 200, info);
    });

    // How many held, released and refused messages the account may see (the list's scope).
    h.Get("/api/counts", [this](const httplib::Request& req, httplib::Response& res) {
      auto s = session(req, res, false);
      if (!s) return;
      reply(res, 200, service.counts(s->account));
    });

    h.Get("/api/messages", [this](const httplib::Request& req, httplib::Response& res) {
      auto s = session(req, res, false);
      if (!s) return;
      const Account* a = &s->account;
      QuarantineFilter f;
      f.limit = 500;
      std::string st = req.has_param("status") ? req.get_param_value("status") : "held";
      if (st != "all") {
        auto parsed = parse_quarantine_status(st);
        if (!parsed) return error(res, 400, "unknown status");
        f.status = parsed;
      }
      if (req.has_param("category")) f.category = req.get_param_value("category");
      if (req.has_param("sender")) f.sender = req.get_param_value("sender");
      reply(res, 200, service.list(*a, f));
    });

    h.Get(R"(/api/messages/([A-Za-z0-9-]{1,64}))",
          [this](const httplib::Request& req, httplib::Response& res) {
            auto s = session(req, res, false);
            if (!s) return;
            try {
              reply(res, 200, service.detail(s->account, req.matches[1]));
            } catch (const NotFound&) {
              error(res, 404, "no such message");
            } catch (const std::invalid_argument&) {
              error(res, 404, "no such message");
            }
          });

    h.Post(R"(/api/messages/([A-Za-z0-9-]{1,64})/release)",
           [this](const httplib::Request& req, httplib::Response& res) {
             decide(req, res, [this](const Account& a, const std::string& id, const json& b) {
               return service.release(a.login, id, recipients_of(b), clean_note(b));
             });
           });
    h.Post(R"(/api/messages/([A-Za-z0-9-]{1,64})/refuse)",
           [this](const httplib::Request& req, httplib::Response& res) {
             decide(req, res, [this](const Account& a, const std::string& id, const json& b) {
               service.refuse(a.login, id, clean_note(b));
               return json{{"refused", true}};
             });
           });
    h.Post(R"(/api/messages/([A-Za-z0-9-]{1,64})/not-a-violation)",
           [this](const httplib::Request& req, httplib::Response& res) {
             decide(req, res, [this](const Account& a, const std::string& id, const json& b) {
               service.dismiss(a.login, id, b.value("rule", ""), clean_note(b));
               return json{{"recorded", true}};
             });
           });
    h.Post(R"(/api/messages/([A-Za-z0-9-]{1,64})/delete)",
           [this](const httplib::Request& req, httplib::Response& res) {
             decide(
                 req, res,
                 [this](const Account& a, const std::string& id, const json& b) {
                   service.store().remove(id, a.login, clean_note(b));
                   return json{{"deleted", true}};
                 },
                 Role::admin);
           });

    // Senders (issue 13): no account, no cookie - the signed token of one message, in a
    // header (the page reads it from the link's #fragment, so it is in no URL log).
    auto sender = [this](const httplib::Request& req, httplib::Response& res, auto act) {
      try {
        reply(res, 200, act(req.get_header_value("X-Sender-Token")));
      } catch (const LinkRefused& e) {
        error(res, 403, e.what());
      } catch (const NotFound&) {
        error(res, 404, "this message is no longer in the quarantine");
      } catch (const BadRequest& e) {
        error(res, 400, e.what());
      } catch (const std::invalid_argument& e) {  // DecisionConflict: decided meanwhile
        error(res, 409, e.what());
      }
    };
    h.Get("/api/sender", [this, sender](const httplib::Request& req, httplib::Response& res) {
      sender(req, res, [this](const std::string& t) { return service.sender_view(t); });
    });
    h.Post("/api/sender/withdraw",
           [this, sender](const httplib::Request& req, httplib::Response& res) {
             if (!body(req, res)) return;
             sender(req, res, [this](const std::string& t) {
               service.sender_withdraw(t);
               return service.sender_view(t);
             });
           });
    h.Post("/api/sender/reason",
           [this, sender](const httplib::Request& req, httplib::Response& res) {
             auto b = body(req, res);
             if (!b) return;
             const json& r = (*b)["reason"];
             std::string reason = r.is_string() ? r.get<std::string>() : std::string();
             sender(req, res, [this, &reason](const std::string& t) {
               service.sender_annotate(t, reason);
               return service.sender_view(t);
             });
           });

    h.Get("/api/audit", [this](const httplib::Request& req, httplib::Response& res) {
      auto s = session(req, res, false);
      if (!s) return;
      AuditQuery q;
      q.message_id = req.has_param("message") ? req.get_param_value("message") : "";
      q.action = req.has_param("action") ? req.get_param_value("action") : "";
      try {
        if (req.has_param("before")) q.before = std::stoll(req.get_param_value("before"));
        if (req.has_param("limit"))
          q.limit = static_cast<std::size_t>(std::stoul(req.get_param_value("limit")));
      } catch (const std::exception&) {
        return error(res, 400, "before and limit are numbers");
      }
      if (q.before < 0 || q.limit == 0 || q.limit > 1000)
        return error(res, 400, "limit is 1..1000");
      reply(res, 200, service.audit(s->account, q));
    });
    // Monitor mode (issue 13): what would have been held, read-only.
    h.Get("/api/monitor", [this](const httplib::Request& req, httplib::Response& res) {
      auto s = session(req, res, false);
      if (!s) return;
      reply(res, 200, service.monitor(s->account, 500));
    });
    h.Get("/api/dismissals", [this](const httplib::Request& req, httplib::Response& res) {
      auto s = session(req, res, false, Role::admin);
      if (!s) return;
      reply(res, 200, service.dismissals(s->account, 500));
    });
    h.Get("/api/users", [this](const httplib::Request& req, httplib::Response& res) {
      auto s = session(req, res, false, Role::admin);
      if (!s) return;
      json out = json::array();
      for (const auto& a : service.visible_accounts(s->account))
        out.push_back({{"login", a.login},
                       {"role", to_string(a.role)},
                       {"email", a.email},
                       {"categories", a.categories},
                       {"schools", a.schools},
                       {"totp", !a.totp_secret.empty()}});
      reply(res, 200, out);
    });
  }
};

ReviewServer::ReviewServer(ReviewService& service, UserStore& users)
    : impl_(std::make_unique<Impl>(service, users)) {}
ReviewServer::~ReviewServer() = default;

int ReviewServer::bind(const std::string& host, int port) {
  return impl_->http->bind_port(host, port);
}

void ReviewServer::run() {
  impl_->http->listen_after_bind();
}
void ReviewServer::stop() {
  impl_->http->stop();
}

}  // namespace pm
