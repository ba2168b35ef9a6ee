// The configuration keys of issue 15: several schools in one configuration.
//
//   [trust]
//   name = "Example Learning Trust"
//   other_school_colleague = "internal" | "external"   a colleague at another school
//   [[schools]]
//   id = "st-annes"                 ^[a-z0-9][a-z0-9-]{0,31}$, unique
//   name = "St Anne's C of E Primary School"
//   staff_domains = ["stannes.example"]
//   ...every other [school] key; an omitted one takes [school]'s value
//
// Without [[schools]], Config::schools is [school] alone (id "") and nothing else changes.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "config/check.h"
#include "config/schema.h"
#include "engine/config.h"
#include "engine/config_internal.h"
#include "policy/schools.h"
#include "util/error.h"
#include "util/strings.h"
#include "util/toml_read.h"

namespace pm {

namespace {

constexpr std::size_t kMaxSchoolIdLength = 32;  // the id is a column of the store

bool valid_school_id(const std::string& id) {
  if (id.empty() || id.size() > kMaxSchoolIdLength) return false;
  auto ok = [](char ch, bool first) {
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || (!first && ch == '-');
  };
  for (std::size_t i = 0; i < id.size(); ++i)
    if (!ok(id[i], i == 0)) return false;
  return true;
}

// `key` of this [[schools]] table, or `inherited` ([school]'s) when the table omits it.
std::vector<std::string> list_or(const std::string& file, const toml::table& t, const char* key,
                                 const std::vector<std::string>& inherited) {
  config::require_key("schools", key);
  const toml::node* n = t.get(key);
  if (!n) return inherited;
  std::vector<std::string> out = toml_strings(file, n, std::string("schools.") + key);
  for (auto& s : out) s = to_lower_ascii(trim(s));
  return out;
}

}  // namespace

const SchoolConfig& school_of(const Config& c, std::string_view id) {
  static const SchoolConfig kNone;  // a Config not from load_config() has no schools
  for (const auto& s : c.schools)
    if (s.id == id) return s;
  return c.schools.empty() ? kNone : c.schools.front();
}

void read_school_keys(const std::string& file, const toml::table& root,
                      const std::filesystem::path& base, Config& c) {
  SchoolConfig single;
  single.name = c.school_name;
  single.domains = c.domains;
  single.website = c.website;
  single.official_social = c.official_social;
  single.whistleblowing_domains = c.whistleblowing_domains;
  single.roster = c.roster;
  single.parent_contacts = c.parent_contacts;

  const toml::node* tn = root.get("trust");
  if (const toml::table* trust = tn ? tn->as_table() : nullptr) {
    config::require_key("trust", "name");
    config::require_key("trust", "other_school_colleague");
    c.trust_name = toml_string(file, *trust, "name", "trust.name");
    if (const toml::node* o = trust->get("other_school_colleague")) {
      auto s = o->value<std::string>();
      if (s && *s == "internal")
        c.other_school_colleague = RecipientClass::internal;
      else if (s && *s == "external")
        c.other_school_colleague = RecipientClass::external;
      else
        throw ConfigError(file, toml_line(o),
                          "trust.other_school_colleague must be \"internal\" or \"external\"");
    }
  }

  const toml::node* sn = root.get("schools");
  const toml::array* arr = sn ? sn->as_array() : nullptr;
  if (sn && (!arr || !arr->is_array_of_tables()) && !(arr && arr->empty()))
    throw ConfigError(file, toml_line(sn), "[[schools]] must be an array of tables");
  if (!arr || arr->empty()) {
    if (tn)
      spdlog::warn("{}:{}: [trust] without [[schools]]: one school, [school]", file, toml_line(tn));
    c.schools = {std::move(single)};
    return;
  }
  c.trust = true;
  auto resolve = [&](const std::string& p) -> std::filesystem::path {
    if (p.empty()) return {};
    std::filesystem::path q(p);
    return q.is_absolute() ? q : (base / q).lexically_normal();
  };
  for (const auto& e : *arr) {
    const toml::table& t = *e.as_table();
    SchoolConfig s;
    s.line = toml_line(&t);
    config::require_key("schools", "id");
    const toml::node* idn = t.get("id");
    if (!idn) throw ConfigError(file, s.line, "[[schools]] needs an id (\"st-annes\")");
    s.id = toml_string(file, t, "id", "schools.id");
    if (!valid_school_id(s.id))
      throw ConfigError(file, toml_line(idn),
                        "schools.id '" + s.id +
                            "': lower-case letters, digits and '-', starting with a letter or "
                            "digit, at most 32 (it is logged and counted)");
    for (const auto& other : c.schools)
      if (other.id == s.id)
        throw ConfigError(file, toml_line(idn),
                          "schools.id '" + s.id + "' is defined twice (first at line " +
                              std::to_string(other.line) + ")");
    config::require_key("schools", "name");
    s.name = toml_string(file, t, "name", "schools.name", single.name);
    s.domains = single.domains;  // webmail and lookalike distance: [recipients]
    s.domains.staff = list_or(file, t, "staff_domains", single.domains.staff);
    s.domains.pupil = list_or(file, t, "pupil_domains", single.domains.pupil);
    s.domains.partner = list_or(file, t, "partner_domains", single.domains.partner);
    s.domains.outside_lists = list_or(file, t, "outside_lists", single.domains.outside_lists);
    s.website = list_or(file, t, "website", single.website);
    s.official_social = list_or(file, t, "official_social", single.official_social);
    s.whistleblowing_domains =
        list_or(file, t, "whistleblowing_domains", single.whistleblowing_domains);
    config::require_key("schools", "roster");
    config::require_key("schools", "parent_contacts");
    s.roster =
        t.get("roster") ? resolve(toml_string(file, t, "roster", "schools.roster")) : single.roster;
    s.parent_contacts =
        t.get("parent_contacts")
            ? resolve(toml_string(file, t, "parent_contacts", "schools.parent_contacts"))
            : single.parent_contacts;
    if (s.domains.staff.empty())
      throw ConfigError(file, s.line,
                        "[[schools]] '" + s.id +
                            "' has no staff_domains (and [school] none to share): at least one");
    c.schools.push_back(std::move(s));
  }

  // A staff domain of several schools: only the staff file can say whose a sender is.
  std::vector<SchoolDomains> sd;
  for (const auto& s : c.schools) sd.push_back({s.id, s.domains});
  const std::vector<std::string> shared = shared_staff_domains(sd);
  const StaffRoles& staff = c.exceptions.roles;
  if (!shared.empty() && !staff.has_school_column()) {
    int line = 0;
    std::string ids;
    for (const auto& s : c.schools)
      if (std::find_if(s.domains.staff.begin(), s.domains.staff.end(), [&](const std::string& d) {
            return d == shared.front();
          }) != s.domains.staff.end()) {
        if (!ids.empty()) line = line ? line : s.line;
        ids += (ids.empty() ? "" : ", ") + s.id;
      }
    throw ConfigError(file, line,
                      "[[schools]] staff domain " + shared.front() + " is shared by " + ids +
                          ": the staff file ([exceptions] staff_roles) needs a school column "
                          "(a header line \"email,roles,school\") to say whose each sender is");
  }
  std::vector<std::string> ids;
  for (const auto& s : c.schools) ids.push_back(s.id);
  for (const auto& [addr, school] : staff.schools())
    if (std::find(ids.begin(), ids.end(), school.first) == ids.end())
      throw ConfigError(c.staff_roles.string(), school.second,
                        "staff file: " + config::unknown("school", school.first, ids));
}

}  // namespace pm
