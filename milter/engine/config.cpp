#include "engine/config.h"
#include "engine/config_internal.h"

#include <toml++/toml.h>

#include "config/schema.h"
#include "config/validate.h"
#include "util/error.h"
#include "util/strings.h"
#include "util/toml_read.h"

#ifndef PM_SYSCONFDIR
#define PM_SYSCONFDIR "/etc/policy-milter"
#endif

namespace pm {

namespace {

int line_of(const toml::node* n) {
  return toml_line(n);
}

// Each reader names the key's table: only keys of the schema are read (config/schema.h).
std::vector<std::string> string_list(const std::string& file, const char* table,
                                     const toml::table& t, const char* key, bool lower = true) {
  config::require_key(table, key);
  std::vector<std::string> out = toml_strings(file, t.get(key), key);
  if (lower)
    for (auto& s : out) s = to_lower_ascii(s);
  return out;
}

template <typename T>
void read_number(const std::string& file, const char* table, const toml::table& t, const char* key,
                 T& into) {
  config::require_key(table, key);
  const toml::node* n = t.get(key);
  if (!n) return;
  auto v = n->value<int64_t>();
  if (!v || *v <= 0)
    throw ConfigError(file, line_of(n), std::string(key) + " must be a positive integer");
  into = static_cast<T>(*v);
}

}  // namespace

std::filesystem::path default_config_path() {
  std::error_code ec;
  std::filesystem::path local = "conf/policy-milter.toml";
  if (std::filesystem::exists(local, ec)) return local;
  return std::filesystem::path(PM_SYSCONFDIR) / "policy-milter.toml";
}

Config load_config(const std::filesystem::path& path) {
  Config c;
  c.file = path;
  const std::string file = path.string();
  std::string content;
  try {
    content = read_file(file);
  } catch (const std::exception& e) {
    throw ConfigError(file, 0, "cannot read configuration");
  }
  c.raw = content;
  toml::table t;
  try {
    t = toml::parse(content, file);
  } catch (const toml::parse_error& e) {
    throw ConfigError(file, static_cast<int>(e.source().begin.line), std::string(e.description()));
  }
  // Every table and key against the schema (config/schema.h) before anything is read: a
  // typo or a wrong type is refused here, never read as the default.
  config::validate(t, file);
  std::filesystem::path base = path.parent_path();
  auto resolve = [&](const std::string& p) -> std::filesystem::path {
    if (p.empty()) return {};
    std::filesystem::path q(p);
    return q.is_absolute() ? q : (base / q).lexically_normal();  // messages name rules/x.toml
  };

  // With [[schools]], [school] holds the shared defaults only and may be absent or name no
  // staff domain (each school names its own: config_schools.cpp).
  const toml::array* schools = t["schools"].as_array();
  const bool trust = schools && !schools->empty();
  static const toml::table kNoDefaults;
  const toml::table* school = t["school"].as_table();
  if (!school && !trust) throw ConfigError(file, 1, "missing [school] table");
  if (!school) school = &kNoDefaults;
  c.school_name = (*school)["name"].value_or(std::string());
  c.domains.staff = string_list(file, "school", *school, "staff_domains");
  if (c.domains.staff.empty() && !trust)
    throw ConfigError(file, line_of(school),
                      "[school] staff_domains must name at least one domain");
  c.domains.pupil = string_list(file, "school", *school, "pupil_domains");
  c.domains.partner = string_list(file, "school", *school, "partner_domains");
  c.domains.outside_lists = string_list(file, "school", *school, "outside_lists");
  c.website = string_list(file, "school", *school, "website");
  c.official_social = string_list(file, "school", *school, "official_social");
  c.whistleblowing_domains = string_list(file, "school", *school, "whistleblowing_domains");
  c.roster = resolve((*school)["roster"].value_or(std::string()));
  c.parent_contacts = resolve((*school)["parent_contacts"].value_or(std::string()));

  if (const toml::table* r = t["recipients"].as_table()) {
    c.domains.webmail = string_list(file, "recipients", *r, "webmail_domains");
    read_number(file, "recipients", *r, "lookalike_max_distance", c.domains.lookalike_max_distance);
    if (const toml::node* n = r->get("disclosed_addresses")) {
      auto v = n->value<int64_t>();
      if (!v || *v < 0)
        throw ConfigError(file, line_of(n),
                          "disclosed_addresses must be 0 (off) or a positive integer");
      c.disclosed_addresses = static_cast<unsigned>(*v);
    }
  }
  const toml::table* rules = t["rules"].as_table();
  c.rules_dir = resolve(rules ? (*rules)["dir"].value_or(std::string("../rules")) : "../rules");
  // The school's own rule files: the default (local.d beside this file) may be absent; a
  // directory named here must exist (a typo would silently drop the school's rules).
  const toml::node* local = rules ? rules->get("local_dir") : nullptr;
  c.local_dir = resolve(local ? local->value_or(std::string()) : std::string("local.d"));
  c.local_dir_required = local != nullptr;
  c.local_dir_line = line_of(local);

  if (const toml::table* a = t["actions"].as_table()) {
    for (const auto& [k, v] : *a) {
      std::string key(k.str());
      if (key == "misaddress" || key == "mode") continue;  // read_exception_keys()
      const toml::table* cell = v.as_table();
      if (!cell)
        throw ConfigError(file, line_of(&v),
                          "actions." + key + " must be { internal = ..., outside = ... }");
      ActionCells cells;
      cells.line = line_of(&v);
      for (const auto& [ck, cv] : *cell)
        if (ck.str() != "internal" && ck.str() != "outside" && ck.str() != "mode")
          throw ConfigError(file, line_of(&cv),
                            "actions." + key + ": unknown key '" + std::string(ck.str()) +
                                "' (internal, outside, mode)");
      for (auto [name, into] :
           {std::pair{"internal", &cells.internal}, std::pair{"outside", &cells.outside}}) {
        const toml::node* n = cell->get(name);
        auto act = n ? parse_action(n->value_or(std::string())) : std::nullopt;
        if (!act)
          throw ConfigError(file, line_of(n ? n : &v),
                            "actions." + key + "." + name + " must be accept, tag or quarantine");
        *into = *act;
      }
      c.actions[key] = cells;
    }
  }
  if (const toml::table* l = t["limits"].as_table()) {
    Limits& L = c.limits;
    read_number(file, "limits", *l, "max_message_bytes", L.max_message_bytes);
    read_number(file, "limits", *l, "max_header_line_bytes", L.max_header_line_bytes);
    read_number(file, "limits", *l, "max_mime_depth", L.max_mime_depth);
    read_number(file, "limits", *l, "max_parts", L.max_parts);
    read_number(file, "limits", *l, "max_decoded_bytes", L.max_decoded_bytes);
    read_number(file, "limits", *l, "max_attachment_bytes", L.max_attachment_bytes);
    read_number(file, "limits", *l, "max_archive_depth", L.max_archive_depth);
    read_number(file, "limits", *l, "max_archive_members", L.max_archive_members);
    read_number(file, "limits", *l, "max_archive_bytes", L.max_archive_bytes);
    read_number(file, "limits", *l, "max_compression_ratio", L.max_compression_ratio);
    read_number(file, "limits", *l, "sheet_segment_bytes", L.sheet_segment_bytes);
    read_number(file, "limits", *l, "extractor_memory_bytes", L.extractor_memory_bytes);
    read_number(file, "limits", *l, "extractor_timeout_ms", L.extractor_timeout_ms);
    read_number(file, "limits", *l, "scan_time_budget_ms", L.scan_time_budget_ms);
  }
  read_exception_keys(file, t, base, c);
  read_school_keys(file, t, base, c);
  if (const toml::table* m = t["milter"].as_table())
    c.cache_dir = resolve((*m)["cache_dir"].value_or(std::string()));
  return c;
}

}  // namespace pm
