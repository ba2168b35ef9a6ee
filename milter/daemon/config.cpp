#include "daemon/config.h"

#include <spdlog/spdlog.h>
#include <toml++/toml.h>

#include <algorithm>
#include <stdexcept>

#include "config/schema.h"
#include "config/validate.h"
#include "util/error.h"

namespace pm {
namespace fs = std::filesystem;

const char* to_string(OnError e) {
  switch (e) {
    case OnError::tempfail:
      return "tempfail";
    case OnError::reject:
      return "reject";
    case OnError::accept:
      return "accept";
  }
  return "tempfail";
}

namespace {

struct Reader {
  std::string file;
  fs::path base;

  int line_of(const toml::node& n) const { return static_cast<int>(n.source().begin.line); }

  [[noreturn]] void bad(const toml::node& n, const std::string& what) const {
    throw ConfigError(file, line_of(n), what);
  }

  std::string str(const toml::table& t, const char* key, std::string dflt,
                  const char* section) const {
    config::require_key(section, key);  // every key read here was checked
    const toml::node* n = t.get(key);
    if (!n) return dflt;
    if (!n->is_string()) bad(*n, std::string(section) + "." + key + " must be a string");
    return std::string(*n->value<std::string>());
  }
  fs::path path(const toml::table& t, const char* key, fs::path dflt, const char* section) const {
    std::string s = str(t, key, dflt.string(), section);
    fs::path p(s);
    return p.is_absolute() ? p : base / p;
  }
  std::int64_t integer(const toml::table& t, const char* key, std::int64_t dflt, std::int64_t lo,
                       std::int64_t hi, const char* section) const {
    config::require_key(section, key);  // every key read here was checked
    const toml::node* n = t.get(key);
    if (!n) return dflt;
    if (!n->is_integer()) bad(*n, std::string(section) + "." + key + " must be an integer");
    std::int64_t v = *n->value<std::int64_t>();
    if (v < lo || v > hi)
      bad(*n, std::string(section) + "." + key + " must be between " + std::to_string(lo) +
                  " and " + std::to_string(hi));
    return v;
  }
  bool boolean(const toml::table& t, const char* key, bool dflt, const char* section) const {
    config::require_key(section, key);  // every key read here was checked
    const toml::node* n = t.get(key);
    if (!n) return dflt;
    if (!n->is_boolean()) bad(*n, std::string(section) + "." + key + " must be true or false");
    return *n->value<bool>();
  }
  std::vector<std::string> strings(const toml::table& t, const char* key,
                                   const char* section) const {
    config::require_key(section, key);  // every key read here was checked
    std::vector<std::string> out;
    const toml::node* n = t.get(key);
    if (!n) return out;
    const toml::array* a = n->as_array();
    if (!a) bad(*n, std::string(section) + "." + key + " must be an array of strings");
    for (const toml::node& e : *a) {
      if (!e.is_string()) bad(e, std::string(section) + "." + key + " must hold strings only");
      out.push_back(std::string(*e.value<std::string>()));
    }
    return out;
  }
};

const toml::table& section(const toml::table& root, const char* name, const Reader& r) {
  static const toml::table empty;
  const toml::node* n = root.get(name);
  if (!n) return empty;
  if (!n->is_table()) r.bad(*n, std::string("[") + name + "] must be a table");
  return *n->as_table();
}

}  // namespace

DaemonConfig load_daemon_config(const fs::path& file_in) {
  std::error_code ec;
  fs::path file = fs::absolute(file_in, ec);
  if (ec) file = file_in;
  toml::table root;
  try {
    root = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    throw ConfigError(file.string(), static_cast<int>(e.source().begin.line),
                      std::string(e.description()));
  }
  config::validate(root, file.string());  // the schema first: no typo is read as a default
  Reader r{file.string(), file.parent_path()};
  DaemonConfig c;
  c.config_file = file;

  const toml::table& m = section(root, "milter", r);
  c.socket = r.str(m, "socket", c.socket, "milter");
  if (c.socket.rfind("inet:", 0) != 0 && c.socket.rfind("inet6:", 0) != 0 &&
      c.socket.rfind("unix:", 0) != 0 && c.socket.rfind("local:", 0) != 0)
    r.bad(*m.get("socket"), "milter.socket must start with inet:, inet6: or unix:");
  std::string on_error = r.str(m, "on_error", "tempfail", "milter");
  if (on_error == "tempfail")
    c.on_error = OnError::tempfail;
  else if (on_error == "reject")
    c.on_error = OnError::reject;
  else if (on_error == "accept")
    c.on_error = OnError::accept;
  else
    r.bad(*m.get("on_error"), "milter.on_error must be tempfail, reject or accept");
  c.scan_timeout_seconds =
      static_cast<unsigned>(r.integer(m, "scan_timeout_seconds", 30, 1, 3600, "milter"));
  c.idle_timeout_seconds =
      static_cast<unsigned>(r.integer(m, "idle_timeout_seconds", 300, 1, 86400, "milter"));
  // Renamed in 0.2 (it now bounds a connection idle between commands): still read, with a
  // warning, for one release, so an upgrade does not silently drop an admin's setting.
  if (const toml::node* old = m.get("milter_timeout_seconds")) {
    if (!m.get("idle_timeout_seconds"))
      c.idle_timeout_seconds =
          static_cast<unsigned>(r.integer(m, "milter_timeout_seconds", 300, 1, 86400, "milter"));
    spdlog::warn("{}:{}: milter.milter_timeout_seconds is deprecated: use idle_timeout_seconds",
                 file.string(), r.line_of(*old));
  }
  c.handshake_timeout_seconds =
      static_cast<unsigned>(r.integer(m, "handshake_timeout_seconds", 10, 1, 3600, "milter"));
  c.max_connections =
      static_cast<unsigned>(r.integer(m, "max_connections", 1000, 1, 100000, "milter"));
  c.scan_workers = static_cast<unsigned>(r.integer(m, "scan_workers", 0, 0, 256, "milter"));
  c.large_message_bytes = static_cast<std::size_t>(
      r.integer(m, "large_message_bytes", 2 << 20, 1, std::int64_t(1) << 40, "milter"));
  c.memory_budget_bytes = static_cast<std::size_t>(r.integer(
      m, "memory_budget_bytes", std::int64_t(1) << 30, 16 << 20, std::int64_t(1) << 44, "milter"));
  c.scan_memory_factor =
      static_cast<unsigned>(r.integer(m, "scan_memory_factor", 20, 1, 1000, "milter"));
  c.spill_bytes = static_cast<std::size_t>(
      r.integer(m, "spill_bytes", 1 << 20, 4096, std::int64_t(1) << 34, "milter"));
  c.spill_dir = r.path(m, "spill_dir", c.spill_dir, "milter");
  c.split_recipients = r.boolean(m, "split_recipients", false, "milter");
  std::vector<std::string> nets = r.strings(m, "internal_networks", "milter");
  nets.push_back("127.0.0.0/8");  // loopback is always internal (local submission)
  nets.push_back("::1/128");
  for (std::size_t i = 0; i < nets.size(); ++i) {
    auto n = parse_network(nets[i]);
    if (!n)
      r.bad(*m.get("internal_networks"), "milter.internal_networks: bad network '" + nets[i] + "'");
    c.internal_networks.push_back(*n);
  }
  c.stats_file = r.path(m, "stats_file", c.stats_file, "milter");
  c.cache_dir = r.path(m, "cache_dir", c.cache_dir, "milter");

  const toml::table& q = section(root, "quarantine", r);
  c.quarantine_dir = r.path(q, "dir", c.quarantine_dir, "quarantine");
  c.quarantine_put_timeout_ms = static_cast<unsigned>(
      r.integer(q, "put_timeout_ms", c.quarantine_put_timeout_ms, 100, 600000, "quarantine"));
  c.quarantine_integrity_check = r.boolean(q, "integrity_check", true, "quarantine");
  c.quarantine_alert_to = r.strings(q, "alert_to", "quarantine");
  c.quarantine_backend = r.str(q, "backend", c.quarantine_backend, "quarantine");
  c.quarantine_dsn = r.str(q, "dsn", c.quarantine_dsn, "quarantine");
  c.quarantine_pg_connections =
      static_cast<unsigned>(r.integer(q, "pg_connections", 4, 1, 256, "quarantine"));
  c.quarantine_pg_query_timeout_ms =
      static_cast<unsigned>(r.integer(q, "pg_query_timeout_ms", 10000, 100, 600000, "quarantine"));
  if (c.quarantine_backend != "sqlite" && c.quarantine_backend != "postgresql")
    r.bad(*q.get("backend"),
          "quarantine.backend: '" + c.quarantine_backend + "' is not a store (sqlite, postgresql)");
  if (c.quarantine_backend == "postgresql" && c.quarantine_dsn.empty())
    throw ConfigError(
        file.string(), 1,
        "[quarantine] backend = \"postgresql\" needs dsn (a libpq connection string)");
  const toml::table& rv = section(root, "review", r);
  c.alert_smtp = r.str(rv, "reinject", c.alert_smtp, "review");
  c.alert_from = r.str(rv, "notice_from", c.alert_from, "review");

  const toml::table& s = section(root, "school", r);
  c.domains.staff = r.strings(s, "staff_domains", "school");
  c.domains.pupil = r.strings(s, "pupil_domains", "school");
  c.domains.partner = r.strings(s, "partner_domains", "school");
  c.domains.outside_lists = r.strings(s, "outside_lists", "school");
  // Several schools ([[schools]]): a sender of any of them is a staff sender, so the lists
  // are the union (an omitted key takes [school]'s value, already in).
  if (const toml::array* schools = root["schools"].as_array())
    for (const auto& e : *schools) {
      const toml::table* t = e.as_table();
      if (!t) continue;  // refused by the schema check already
      auto add = [&](std::vector<std::string>& to, const char* key) {
        for (auto& d : r.strings(*t, key, "schools"))
          if (std::find(to.begin(), to.end(), d) == to.end()) to.push_back(d);
      };
      add(c.domains.staff, "staff_domains");
      add(c.domains.pupil, "pupil_domains");
      add(c.domains.partner, "partner_domains");
      add(c.domains.outside_lists, "outside_lists");
    }
  if (c.domains.staff.empty())
    throw ConfigError(file.string(), 1,
                      "[school].staff_domains is empty: no mail would be filtered");
  return c;
}

}  // namespace pm
