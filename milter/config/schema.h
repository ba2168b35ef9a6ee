// The configuration schema: every table and key of policy-milter.toml that policy-milter,
// policyctl and policy-review read, each with its type, range or choices, default and a
// line of documentation. It is the one list of what the file may hold: config::check()
// (check.h) refuses anything not in it, and the readers (engine/config.cpp,
// daemon/config.cpp, review/config.cpp) validate the file against it before they read a
// value, so no reader ever falls back to a default on a typo or a wrong type.
//
// Adding a key: one row in kKeys (schema.cpp), e.g.
//   {"milter", "scan_timeout_seconds", Int(1, 3600), "30", "per-message time budget"},
// then read it in the reader and document it in conf/policy-milter.toml and
// docs/man/policy-milter.toml.5 (tests/unit/config checks all three agree).
//
// Thread safety: immutable static data.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pm::config {

enum class Kind {
  string,       // any string
  path,         // a string naming a file or directory; relative to the configuration file
  boolean,      // true / false
  integer,      // an integer in [lo, hi]
  number,       // an integer or float in [lo, hi]
  strings,      // a list of strings
  choice,       // a string, one of `choices`
  networks,     // a list of CIDR networks ("10.0.0.0/8", "2001:db8::/32")
  endpoint,     // "host:port"
  action_cell,  // { internal = ACTION, outside = ACTION [, mode = MODE] }, ACTION one of `choices`
  date,         // a TOML date (2027-07-31) or the string "YYYY-MM-DD"
};

struct Type {
  Kind kind = Kind::string;
  std::int64_t lo = 0, hi = 0;
  std::vector<std::string> choices;
};

Type Str();
Type Path();
Type Bool();
Type Int(std::int64_t lo, std::int64_t hi);
Type Date();
Type Num(std::int64_t lo, std::int64_t hi);
Type Strings();
Type OneOf(std::vector<std::string> choices);
Type Networks();
Type Endpoint();
Type ActionCell();

// What a key is besides current: the old name of another key (still read, with a
// warning naming the new key) or a key no longer used (accepted with a warning).
enum class Status { current, renamed, ignored };

struct Key {
  std::string table;  // "milter", "review.retention"; "*" as `name` = any key of the table
  std::string name;
  Type type;
  std::string default_value;  // as a TOML value would read ("30", "\"tempfail\"", "[]")
  std::string doc;
  Status status = Status::current;
  std::string replaced_by;  // renamed/ignored: the key to use instead
};

struct Table {
  std::string name;
  bool array = false;  // [[name]]: an array of tables, each checked against the keys
  std::string doc;
};

const std::vector<Table>& tables();
const std::vector<Key>& keys();

const Table* find_table(std::string_view name);
// The key's row: an exact name, else the table's "*" row; nullptr when unknown.
const Key* find_key(std::string_view table, std::string_view name);
// For readers: throws std::logic_error unless `table`.`key` is a row of the schema, so a key
// read without being registered (and so never checked) fails every test that reads it.
void require_key(std::string_view table, std::string_view key);
// The names of a table's keys (not "*"), current ones only, in schema order.
std::vector<std::string> key_names(std::string_view table);

// Readable name of a type for messages: "an integer from 1 to 3600", "one of a, b".
std::string describe(const Type& t);

}  // namespace pm::config
