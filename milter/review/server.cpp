#include "review/server.h"

#include <httplib.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <ctime>

#include "review/assets.h"
#include "review/totp.h"

namespace pm {

using nlohmann::json;

namespace {

constexpr const char* kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
constexpr const char* kCookie = "pm_review";

std::int64_t now_s() { return static_cast<std::int64_t>(std::time(nullptr)); }

void reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json; charset=utf-8");
}
void error(httplib::Response& res, int status, const std::string& msg) { reply(res, status, {{"error", msg}}); }

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

std::vector<std::string> string_list(const json& j) {
  std::vector<std::string> out;
  if (j.is_array())
    for (const auto& e : j)
      if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
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

struct ReviewServer::Impl {
  ReviewService& service;
  UserStore& users;
  SessionTable sessions;
  Throttle throttle;
  bool tls;
  std::unique_ptr<httplib::Server> http;

  Impl(ReviewService& s, UserStore& u)
      : service(s),
        users(u),
        sessions(std::chrono::minutes(s.config().session_minutes)),
        throttle(s.config().signin_attempts, std::chrono::minutes(s.config().signin_lockout_minutes)),
        tls(!s.config().tls_cert.empty()) {
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    if (tls)
      http = std::make_unique<httplib::SSLServer>(s.config().tls_cert.c_str(), s.config().tls_key.c_str());
    else
#endif
      http = std::make_unique<httplib::Server>();
    routes();
  }

  std::string set_cookie(const std::string& value, std::int64_t max_age) const {
    return std::string(kCookie) + "=" + value + "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
           std::to_string(max_age) + (tls ? "; Secure" : "");
  }

  // The session for a request, or an answer already written (401/403).
  std::optional<Session> session(const httplib::Request& req, httplib::Response& res, bool state_change,
                                 std::optional<Role> need = std::nullopt) {
    auto s = sessions.find(cookie_value(req, kCookie), now_s());
    if (!s) {
      error(res, 401, "please sign in");
      return std::nullopt;
    }
    if (state_change && !same(req.get_header_value("X-CSRF-Token"), s->csrf)) {
      error(res, 403, "missing or wrong CSRF token");
      return std::nullopt;
    }
    if (need && s->role != *need) {
      error(res, 403, "this needs the " + std::string(to_string(*need)) + " role");
      return std::nullopt;
    }
    return s;
  }

  std::optional<Account> account(const Session& s, httplib::Response& res) {
    auto a = users.find(s.login);
    if (!a) {
      sessions.drop(s.token);
      error(res, 401, "account removed");
    }
    return a;
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
  void decide(const httplib::Request& req, httplib::Response& res, F act, std::optional<Role> need = std::nullopt) {
    auto b = body(req, res);
    if (!b) return;
    auto s = session(req, res, true, need);
    if (!s) return;
    auto a = account(*s, res);
    if (!a) return;
    std::string id = req.matches[1];
    try {
      service.require(*a, id);
      reply(res, 200, act(*a, id, *b));
    } catch (const NotFound&) {
      error(res, 404, "no such message");
    } catch (const ReleaseFailed& e) {
      error(res, 502, e.what());
    } catch (const std::invalid_argument& e) {
      error(res, 409, e.what());
    }
  }

  void routes() {
    auto& h = *http;
    h.set_payload_max_length(256 * 1024);
    h.set_default_headers({{"Content-Security-Policy", kCsp},
                           {"X-Content-Type-Options", "nosniff"},
                           {"Referrer-Policy", "no-referrer"},
                           {"X-Frame-Options", "DENY"},
                           {"Cross-Origin-Opener-Policy", "same-origin"},
                           {"Cache-Control", "no-store"}});
    h.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        spdlog::error("review: request failed: {}", e.what());
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
      std::string login = b->value("login", ""), password = b->value("password", ""), code = b->value("totp", "");
      std::int64_t now = now_s();
      std::string ip_key = "ip:" + req.remote_addr, login_key = "login:" + login;
      if (!throttle.allowed(ip_key, now) || !throttle.allowed(login_key, now)) {
        error(res, 429, "too many failed sign-ins; try again later");
        return;
      }
      auto a = users.verify(login, password);
      bool ok = a.has_value();
      if (ok && !a->totp_secret.empty()) {
        auto key = totp::base32_decode(a->totp_secret);
        if (code.empty()) {
          reply(res, 401, {{"error", "enter the code from your authenticator app"}, {"totp_required", true}});
          return;  // not a failure: the password was right, the page now asks for the code
        }
        ok = key && totp::verify(*key, code, now);
      }
      if (!ok) {
        throttle.failure(ip_key, now);
        throttle.failure(login_key, now);
        spdlog::warn("review: failed sign-in for '{}' from {}", login, req.remote_addr);
        error(res, 401, "wrong login, password or code");
        return;
      }
      throttle.success(login_key);
      Session s = sessions.create(*a, now);
      service.store().audit(a->login, "signed-in", "", "from " + req.remote_addr);
      res.set_header("Set-Cookie", set_cookie(s.token, sessions.lifetime().count()));
      reply(res, 200, {{"login", s.login}, {"role", to_string(s.role)}, {"csrf", s.csrf}});
    });

    h.Post("/api/logout", [this](const httplib::Request& req, httplib::Response& res) {
      auto s = session(req, res, true);
      if (!s) return;
      sessions.drop(s->token);
      res.set_header("Set-Cookie", set_cookie("", 0));
      reply(res, 200, {{"ok", true}});
    });

    h.Get("/api/session", [this](const httplib::Request& req, httplib::Response& res) {
      auto s = session(req, res, false);
      if (!s) return;
      reply(res, 200, {{"login", s->login}, {"role", to_string(s->role)}, {"csrf", s->csrf},
                       {"title", service.config().reviewer_title},
                       {"school", service.config().engine.school_name}});
    });

    h.Get("/api/messages", [this](const httplib::Request& req, httplib::Response& res) {
      auto s = session(req, res, false);
      if (!s) return;
      auto a = account(*s, res);
      if (!a) return;
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

    h.Get(R"(/api/messages/([A-Za-z0-9-]{1,64}))", [this](const httplib::Request& req, httplib::Response& res) {
      auto s = session(req, res, false);
      if (!s) return;
      auto a = account(*s, res);
      if (!a) return;
      try {
        reply(res, 200, service.detail(*a, req.matches[1]));
      } catch (const NotFound&) {
        error(res, 404, "no such message");
      } catch (const std::invalid_argument&) {
        error(res, 404, "no such message");
      }
    });

    h.Post(R"(/api/messages/([A-Za-z0-9-]{1,64})/release)", [this](const httplib::Request& req, httplib::Response& res) {
      decide(req, res, [this](const Account& a, const std::string& id, const json& b) {
        return service.release(a.login, id, string_list(b.value("recipients", json::array())), clean_note(b));
      });
    });
    h.Post(R"(/api/messages/([A-Za-z0-9-]{1,64})/refuse)", [this](const httplib::Request& req, httplib::Response& res) {
      decide(req, res, [this](const Account& a, const std::string& id, const json& b) {
        service.refuse(a.login, id, clean_note(b));
        return json{{"refused", true}};
      });
    });
    h.Post(R"(/api/messages/([A-Za-z0-9-]{1,64})/not-a-violation)", [this](const httplib::Request& req, httplib::Response& res) {
      decide(req, res, [this](const Account& a, const std::string& id, const json& b) {
        service.dismiss(a.login, id, b.value("rule", ""), clean_note(b));
        return json{{"recorded", true}};
      });
    });
    h.Post(R"(/api/messages/([A-Za-z0-9-]{1,64})/delete)", [this](const httplib::Request& req, httplib::Response& res) {
      decide(
          req, res,
          [this](const Account& a, const std::string& id, const json& b) {
            service.store().remove(id, a.login, clean_note(b));
            return json{{"deleted", true}};
          },
          Role::admin);
    });

    h.Get("/api/audit", [this](const httplib::Request& req, httplib::Response& res) {
      auto s = session(req, res, false);
      if (!s) return;
      std::string id = req.has_param("message") ? req.get_param_value("message") : "";
      reply(res, 200, service.audit(id, 500));
    });
    h.Get("/api/dismissals", [this](const httplib::Request& req, httplib::Response& res) {
      if (!session(req, res, false, Role::admin)) return;
      reply(res, 200, service.dismissals(500));
    });
    h.Get("/api/users", [this](const httplib::Request& req, httplib::Response& res) {
      if (!session(req, res, false, Role::admin)) return;
      json out = json::array();
      for (const auto& a : users.list())
        out.push_back({{"login", a.login}, {"role", to_string(a.role)}, {"email", a.email},
                       {"categories", a.categories}, {"totp", !a.totp_secret.empty()}});
      reply(res, 200, out);
    });
  }
};

ReviewServer::ReviewServer(ReviewService& service, UserStore& users)
    : impl_(std::make_unique<Impl>(service, users)) {}
ReviewServer::~ReviewServer() = default;

int ReviewServer::bind(const std::string& host, int port) {
  if (port == 0) return impl_->http->bind_to_any_port(host);
  return impl_->http->bind_to_port(host, port) ? port : -1;
}

void ReviewServer::run() { impl_->http->listen_after_bind(); }
void ReviewServer::stop() { impl_->http->stop(); }

}  // namespace pm
