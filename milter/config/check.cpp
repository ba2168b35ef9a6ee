#include <algorithm>

#include "config/schema.h"
#include "config/validate.h"
#include "daemon/networks.h"
#include "util/error.h"
#include "util/strings.h"

namespace pm::config {

std::string Problem::text() const {
  return (warning ? "warning: " : "") + file + (line > 0 ? ":" + std::to_string(line) : "") + ": " +
         message;
}

namespace {

// Edits between two names, a swap of neighbours counting as one ("dri" is one from "dir").
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i)
    for (std::size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min(
          {d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

int line_of(const toml::node& n) {
  return static_cast<int>(n.source().begin.line);
}

bool endpoint_ok(std::string_view s) {
  auto colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view host = s.substr(0, colon), port = s.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string_view::npos)
    return false;
  int p = std::stoi(std::string(port));
  if (p < 1 || p > 65535) return false;
  if (host.front() == '[') return host.back() == ']' && host.size() > 2;
  return host.find(':') == std::string_view::npos;  // an IPv6 literal needs [..]
}

class Checker {
 public:
  Checker(std::string file) : file_(std::move(file)) {}
  std::vector<Problem> problems;

  void root(const toml::table& t) {
    for (const auto& [k, v] : t) {
      std::string name(k.str());
      if (find_table(name)) {
        table_or_array(name, v);
        continue;
      }
      if (v.is_table() || v.is_array_of_tables())
        error(v, unknown("table", "[" + name + "]", top_tables()));
      else
        error(v, "key '" + name + "' is outside any table" + belongs_in(name));
    }
  }

 private:
  std::string file_;

  void error(const toml::node& n, std::string m) {
    problems.push_back({file_, line_of(n), false, std::move(m)});
  }
  void warn(const toml::node& n, std::string m) {
    problems.push_back({file_, line_of(n), true, std::move(m)});
  }

  static std::vector<std::string> top_tables() {
    std::vector<std::string> out;
    for (const auto& t : tables())
      if (t.name.find('.') == std::string::npos) out.push_back("[" + t.name + "]");
    return out;
  }

  // " (it belongs in [review])" when the key is a key of another table.
  static std::string belongs_in(const std::string& key) {
    for (const auto& k : keys())
      if (k.name == key) return ": it belongs in [" + k.table + "]";
    return "";
  }

  void table_or_array(const std::string& name, const toml::node& v) {
    const Table* t = find_table(name);
    if (t->array) {
      const toml::array* a = v.as_array();
      if (!a || (!a->empty() && !a->is_array_of_tables())) {
        error(v,
              "[[" + name + "]] must be an array of tables (write [[" + name + "]] before each)");
        return;
      }
      for (const auto& e : *a) table(name, *e.as_table());
      return;
    }
    if (!v.is_table()) {
      error(v, "[" + name + "] must be a table");
      return;
    }
    table(name, *v.as_table());
  }

  void table(const std::string& name, const toml::table& t) {
    for (const auto& [k, v] : t) {
      std::string key(k.str());
      std::string full = name + "." + key;
      if (find_table(full)) {
        table_or_array(full, v);
        continue;
      }
      const Key* row = find_key(name, key);
      if (!row) {
        std::vector<std::string> valid = key_names(name);
        for (const auto& sub : tables())
          if (sub.name.rfind(name + ".", 0) == 0) valid.push_back(sub.name.substr(name.size() + 1));
        std::string m = unknown("key", key, valid, " in [" + name + "]");
        std::string elsewhere = belongs_in(key);
        error(v, elsewhere.empty() ? m : "key '" + key + "' in [" + name + "]" + elsewhere);
        continue;
      }
      std::string what = (row->name == "*" ? name + "." + key : name + "." + row->name);
      value(what, row->type, v);
      if (row->status == Status::renamed)
        warn(v,
             what + " is deprecated: use " + row->replaced_by +
                 (t.get(row->replaced_by) ? " (both are set: " + row->replaced_by + " wins)" : ""));
      else if (row->status == Status::ignored)
        warn(v, what + " is " + row->doc);
    }
  }

  void value(const std::string& what, const Type& type, const toml::node& v) {
    auto expect = [&] { error(v, what + " must be " + describe(type)); };
    switch (type.kind) {
      case Kind::string:
      case Kind::path:
        if (!v.is_string()) expect();
        return;
      case Kind::boolean:
        if (!v.is_boolean()) expect();
        return;
      case Kind::integer:
      case Kind::number: {
        double x = 0;
        if (v.is_integer())
          x = static_cast<double>(*v.value<std::int64_t>());
        else if (type.kind == Kind::number && v.is_floating_point())
          x = *v.value<double>();
        else
          return expect();
        if (x < static_cast<double>(type.lo) || x > static_cast<double>(type.hi)) expect();
        return;
      }
      case Kind::strings:
      case Kind::networks: {
        const toml::array* a = v.as_array();
        if (!a) return expect();
        for (const auto& e : *a) {
          if (!e.is_string()) {
            error(e, what + " must be " + describe(type) + ": found a non-string entry");
            continue;
          }
          std::string s = *e.value<std::string>();
          if (type.kind == Kind::networks && !parse_network(s))
            error(e, what + ": '" + s +
                         "' is not a network (address[/prefix], e.g. \"10.0.0.0/8\", "
                         "\"2001:db8::/32\")");
        }
        return;
      }
      case Kind::choice: {
        if (!v.is_string()) return expect();
        std::string s = *v.value<std::string>();
        if (std::find(type.choices.begin(), type.choices.end(), s) == type.choices.end())
          error(v, what + ": " + unknown("value", s, type.choices));
        return;
      }
      case Kind::endpoint:
        if (!v.is_string() || !endpoint_ok(*v.value<std::string>())) expect();
        return;
      case Kind::date:
        if (!v.is_date()) {
          const auto s = v.value<std::string>();
          if (!s || s->size() != 10 || (*s)[4] != '-' || (*s)[7] != '-') expect();
        }
        return;
      case Kind::action_cell: {
        const toml::table* cell = v.as_table();
        if (!cell) return expect();
        for (const char* side : {"internal", "outside"})
          if (!cell->get(side)) error(v, what + " needs " + side + " (" + describe(type) + ")");
        for (const auto& [k, e] : *cell) {
          std::string side(k.str());
          if (side == "mode") {
            value(what + ".mode", OneOf({"enforce", "monitor"}), e);
            continue;
          }
          if (side != "internal" && side != "outside") {
            error(e, what + ": " + unknown("key", side, {"internal", "outside", "mode"}));
            continue;
          }
          value(what + "." + side, OneOf(type.choices), e);
        }
        return;
      }
    }
  }
};

}  // namespace

std::string nearest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_d = 3;
  std::string lw = to_lower_ascii(word);
  for (const auto& c : candidates) {
    std::size_t d = edit_distance(lw, to_lower_ascii(c));
    if (d < best_d && d * 2 < std::max<std::size_t>(c.size(), 2)) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

std::string unknown(std::string_view what, std::string_view word,
                    const std::vector<std::string>& valid, std::string_view where) {
  std::string m =
      "unknown " + std::string(what) + " '" + std::string(word) + "'" + std::string(where);
  std::string near = nearest(word, valid);
  if (!near.empty()) m += ": did you mean '" + near + "'?";
  std::string list;
  for (const auto& v : valid) list += (list.empty() ? "" : ", ") + v;
  if (!list.empty()) m += " (valid: " + list + ")";
  return m;
}

std::vector<Problem> check(const toml::table& root, const std::string& file) {
  Checker c(file);
  c.root(root);
  // toml++ keeps a table's keys sorted by name: report them in the order of the file.
  std::stable_sort(c.problems.begin(), c.problems.end(),
                   [](const Problem& a, const Problem& b) { return a.line < b.line; });
  return std::move(c.problems);
}

std::vector<Problem> check_file(const std::filesystem::path& path) {
  const std::string file = path.string();
  std::string content;
  try {
    content = read_file(file);
  } catch (const std::exception&) {
    return {{file, 0, false, "cannot read configuration"}};
  }
  try {
    return check(toml::parse(content, file), file);
  } catch (const toml::parse_error& e) {
    return {{file, static_cast<int>(e.source().begin.line), false, std::string(e.description())}};
  }
}

void validate(const toml::table& root, const std::string& file) {
  for (const auto& p : check(root, file))
    if (!p.warning) throw ConfigError(p.file, p.line, p.message);
}

}  // namespace pm::config
