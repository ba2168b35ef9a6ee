// The configuration keys of issue 13, in one place: exceptions, monitor mode, misaddress.
//
//   [actions]
//   mode = "enforce" | "monitor"            global monitor mode (default enforce)
//   misaddress = "hold" | "tag" | "accept"   a lookalike recipient with no category
//   confidential = { internal = ..., outside = ..., mode = "monitor" }   per category
//
//   [exceptions]
//   staff_roles = "staff-roles.csv"          MIS export: address,role[;role] per line
//   lists = { la-safeguarding = ["referrals@somerset-la.example", "nhs.example"] }
//   [[exceptions.rule]]
//   name = "dsl-referrals"                   required, unique; logged and counted
//   senders = ["..."]  sender_roles = ["dsl"]             at least one of the two
//   recipients = ["addr" | "domain"]  recipient_lists = ["la-safeguarding"]   one of two
//   categories = ["confidential"]            required; category ids or "unscannable"
//   action = "deliver" | "tag"               default deliver
//   expires = 2027-07-31                     a TOML date or "YYYY-MM-DD"; optional
#include <spdlog/spdlog.h>

#include <ctime>

#include "engine/config.h"
#include "engine/config_internal.h"
#include "util/error.h"
#include "util/strings.h"
#include "util/toml_read.h"

namespace pm {

namespace {

int today_days() {
  std::time_t now = std::time(nullptr);
  return static_cast<int>(now / 86400);
}

std::vector<std::string> lower_list(const std::string& file, const toml::table& t, const char* key,
                                    const std::string& where) {
  std::vector<std::string> out = toml_strings(file, t.get(key), where + "." + key);
  for (auto& s : out) s = to_lower_ascii(trim(s));
  return out;
}

std::string mode_of(const std::string& file, const toml::node* n, const std::string& where) {
  if (!n) return "enforce";
  auto s = n->value<std::string>();
  if (!s || (*s != "enforce" && *s != "monitor"))
    throw ConfigError(file, toml_line(n), where + " must be \"enforce\" or \"monitor\"");
  return *s;
}

const char* const kRuleKeys[] = {"name",       "senders",         "sender_roles",
                                 "recipients", "recipient_lists", "categories",
                                 "action",     "expires"};

PolicyException read_rule(const std::string& file, const toml::table& t, const ExceptionSet& set) {
  PolicyException e;
  e.line = toml_line(&t);
  const std::string where = "exceptions.rule";
  for (const auto& [k, v] : t)
    if (std::find(std::begin(kRuleKeys), std::end(kRuleKeys), k.str()) == std::end(kRuleKeys))
      throw ConfigError(file, toml_line(&v),
                        where + ": unknown key '" + std::string(k.str()) +
                            "' (name, senders, sender_roles, recipients, recipient_lists, "
                            "categories, action, expires)");
  auto name = t["name"].value<std::string>();
  if (!name || name->empty()) throw ConfigError(file, e.line, where + " needs a name");
  e.name = *name;
  for (char ch : e.name)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.'))
      throw ConfigError(file, toml_line(t.get("name")),
                        where + ".name: letters, digits, '-', '_' and '.' only (it is logged)");
  e.senders = lower_list(file, t, "senders", where);
  e.sender_roles = lower_list(file, t, "sender_roles", where);
  if (e.senders.empty() && e.sender_roles.empty())
    throw ConfigError(file, e.line, where + " '" + e.name + "' needs senders or sender_roles");
  e.recipients = lower_list(file, t, "recipients", where);
  e.recipient_lists = lower_list(file, t, "recipient_lists", where);
  if (e.recipients.empty() && e.recipient_lists.empty())
    throw ConfigError(file, e.line,
                      where + " '" + e.name + "' needs recipients or recipient_lists");
  for (const auto& l : e.recipient_lists)
    if (!set.lists.count(l))
      throw ConfigError(file, toml_line(t.get("recipient_lists")),
                        where + " '" + e.name + "': no list '" + l + "' in [exceptions] lists");
  e.categories = lower_list(file, t, "categories", where);
  if (e.categories.empty())
    throw ConfigError(file, e.line, where + " '" + e.name + "' needs categories");
  if (const toml::node* a = t.get("action")) {
    auto s = a->value<std::string>();
    if (s && *s == "deliver")
      e.action = Action::accept;
    else if (s && *s == "tag")
      e.action = Action::tag;
    else
      throw ConfigError(file, toml_line(a), where + ".action must be \"deliver\" or \"tag\"");
  }
  if (const toml::node* x = t.get("expires")) {
    if (auto d = x->value<toml::date>())
      e.expires = days_from_civil(d->year, d->month, d->day);
    else if (auto s = x->value<std::string>())
      e.expires = parse_date(*s);
    if (e.expires < 0)
      throw ConfigError(file, toml_line(x), where + ".expires must be a date (2027-07-31)");
  }
  return e;
}

}  // namespace

void read_exception_keys(const std::string& file, const toml::table& root,
                         const std::filesystem::path& base, Config& c) {
  const toml::table* actions = root["actions"].as_table();
  if (actions) {
    c.monitor_all = mode_of(file, actions->get("mode"), "actions.mode") == "monitor";
    if (const toml::node* m = actions->get("misaddress")) {
      auto s = m->value<std::string>();
      std::optional<Action> act;
      if (s && *s == "hold")
        act = Action::quarantine;
      else if (s)
        act = parse_action(*s);
      if (!act)
        throw ConfigError(file, toml_line(m),
                          "actions.misaddress must be \"hold\" (for that recipient only), \"tag\" "
                          "or \"accept\"");
      c.misaddress = *act;
    }
    for (const auto& [k, v] : *actions)
      if (const toml::table* cell = v.as_table())
        if (mode_of(file, cell->get("mode"), "actions." + std::string(k.str()) + ".mode") ==
            "monitor")
          c.monitor_categories.push_back(std::string(k.str()));
  }
  const toml::node* xn = root.get("exceptions");
  if (!xn) return;
  const toml::table* x = xn->as_table();
  if (!x) throw ConfigError(file, toml_line(xn), "[exceptions] must be a table");
  for (const auto& [k, v] : *x)
    if (k.str() != "staff_roles" && k.str() != "lists" && k.str() != "rule")
      throw ConfigError(
          file, toml_line(&v),
          "exceptions: unknown key '" + std::string(k.str()) + "' (staff_roles, lists, rule)");
  ExceptionSet& set = c.exceptions;
  if (const toml::node* sr = x->get("staff_roles")) {
    auto p = sr->value<std::string>();
    if (!p) throw ConfigError(file, toml_line(sr), "exceptions.staff_roles must be a path");
    if (!p->empty()) {
      std::filesystem::path q(*p);
      c.staff_roles = q.is_absolute() ? q : base / q;
      std::string content;
      try {
        content = read_file(c.staff_roles.string());
      } catch (const std::exception&) {
        throw ConfigError(c.staff_roles.string(), 0, "cannot read the staff roles file");
      }
      try {
        set.roles = StaffRoles::parse(content);
      } catch (const std::invalid_argument& e) {
        throw ConfigError(c.staff_roles.string(), 0, e.what());
      }
    }
  }
  if (const toml::node* ln = x->get("lists")) {
    const toml::table* lists = ln->as_table();
    if (!lists) throw ConfigError(file, toml_line(ln), "exceptions.lists must be a table of lists");
    for (const auto& [k, v] : *lists) {
      std::vector<std::string> entries =
          toml_strings(file, &v, "exceptions.lists." + std::string(k.str()));
      for (auto& e : entries) e = to_lower_ascii(trim(e));
      set.lists[to_lower_ascii(k.str())] = std::move(entries);
    }
  }
  if (const toml::node* rn = x->get("rule")) {
    const toml::array* rules = rn->as_array();
    if (!rules)
      throw ConfigError(file, toml_line(rn), "exceptions.rule must be [[exceptions.rule]] tables");
    const int today = today_days();
    for (const auto& r : *rules) {
      const toml::table* t = r.as_table();
      if (!t)
        throw ConfigError(file, toml_line(&r),
                          "exceptions.rule must be [[exceptions.rule]] tables");
      PolicyException e = read_rule(file, *t, set);
      for (const auto& other : set.exceptions)
        if (other.name == e.name)
          throw ConfigError(file, e.line, "exceptions.rule: '" + e.name + "' is defined twice");
      for (const auto& cat : e.categories)
        if (c.actions.size() && !c.actions.count(cat))
          throw ConfigError(file, toml_line(t->get("categories")),
                            "exceptions.rule '" + e.name + "': unknown category '" + cat + "'");
      if (exception_expired(e, today))
        spdlog::warn("{}:{}: exception '{}' has expired and is ignored", file, e.line, e.name);
      set.exceptions.push_back(std::move(e));
    }
  }
}

}  // namespace pm
