#include "config/schema.h"

#include <stdexcept>

namespace pm::config {

Type Str() {
  return {Kind::string};
}
Type Path() {
  return {Kind::path};
}
Type Bool() {
  return {Kind::boolean};
}
Type Int(std::int64_t lo, std::int64_t hi) {
  return {Kind::integer, lo, hi};
}
Type Num(std::int64_t lo, std::int64_t hi) {
  return {Kind::number, lo, hi};
}
Type Strings() {
  return {Kind::strings};
}
Type OneOf(std::vector<std::string> choices) {
  return {Kind::choice, 0, 0, std::move(choices)};
}
Type Networks() {
  return {Kind::networks};
}
Type Endpoint() {
  return {Kind::endpoint};
}
Type Date() {
  return {Kind::date};
}
Type ActionCell() {
  return {Kind::action_cell, 0, 0, {"accept", "tag", "quarantine"}};
}

namespace {

constexpr std::int64_t kMiB = std::int64_t(1) << 20;
constexpr std::int64_t kTiB = std::int64_t(1) << 40;
constexpr std::int64_t kBig = 1000000;  // "a positive integer" of the review page

const std::vector<std::string> kActions = {"accept", "tag", "quarantine"};

Key renamed(std::string table, std::string name, Type t, std::string to) {
  Key k{std::move(table),
        std::move(name),
        std::move(t),
        "",
        "old name of " + to,
        Status::renamed,
        to};
  return k;
}
Key ignored(std::string table, std::string name, Type t, std::string instead, std::string why) {
  return {std::move(table), std::move(name), std::move(t),      "",
          std::move(why),   Status::ignored, std::move(instead)};
}

}  // namespace

const std::vector<Table>& tables() {
  static const std::vector<Table> t = {
      {"school", false, "who the school is: its domains, sites and MIS exports"},
      {"trust", false, "several schools in one configuration: the trust"},
      {"schools", true, "one school of the trust; omitted keys take [school]'s value"},
      {"recipients", false, "recipient classes beyond the school's own domains"},
      {"rules", false, "where the rules are"},
      {"actions", false, "the action matrix: what happens per category"},
      {"exceptions", false, "standing permissions for lawful sharing"},
      {"exceptions.lists", false, "named recipient lists for exception rules"},
      {"exceptions.rule", true, "one exception: senders, recipients, categories, action"},
      {"limits", false, "bounds on hostile or huge mail"},
      {"milter", false, "the libmilter daemon"},
      {"quarantine", false, "the store of held mail"},
      {"review", false, "policy-review, the head teacher's page"},
      {"review.retention", false, "how long held and decided mail is kept"},
      {"review.cover", false, "deputies, escalation and school-day refusal"},
      {"review.cover.term_dates", true, "the school's terms: { start = DATE, end = DATE }"},
      {"review.routes", true, "who reviews what"},
      {"metrics", false, "the Prometheus listener (off by default)"},
  };
  return t;
}

// One row per key. Keep the order of conf/policy-milter.toml.
const std::vector<Key>& keys() {
  static const std::vector<Key> k = {
      {"school", "name", Str(), "\"\"", "the school's name, used in notices"},
      {"school", "staff_domains", Strings(), "[]",
       "domains whose addresses are staff (at least one)"},
      {"school", "pupil_domains", Strings(), "[]", "pupil accounts: class pupil"},
      {"school", "partner_domains", Strings(), "[]",
       "organisations the school shares with lawfully: class partner"},
      {"school", "outside_lists", Strings(), "[]",
       "staff-domain lists with outside members: class external"},
      {"school", "website", Strings(), "[]", "the school's own web hosts: never a personal link"},
      {"school", "official_social", Strings(), "[]",
       "host/path of the school's own social accounts"},
      {"school", "whistleblowing_domains", Strings(), "[]",
       "prescribed bodies: criticism sent there is not disrepute"},
      {"school", "roster", Path(), "\"\"", "optional MIS roster, \"First Last[,role]\" per line"},
      {"school", "parent_contacts", Path(), "\"\"", "optional MIS parent-contacts export"},

      {"trust", "name", Str(), "\"\"", "the trust's name"},
      {"trust", "other_school_colleague", OneOf({"internal", "external"}), "\"internal\"",
       "the class of a colleague at another school of the trust"},
      {"schools", "id", Str(), "", "the school's id, ^[a-z0-9][a-z0-9-]{0,31}$, unique"},
      {"schools", "name", Str(), "[school] name", "the school's name, used in notices"},
      {"schools", "staff_domains", Strings(), "[school] staff_domains",
       "the school's staff domains (a domain several schools share: the staff file decides)"},
      {"schools", "pupil_domains", Strings(), "[school] pupil_domains", "its pupil accounts"},
      {"schools", "partner_domains", Strings(), "[school] partner_domains", "its partners"},
      {"schools", "outside_lists", Strings(), "[school] outside_lists",
       "its staff-domain lists with outside members"},
      {"schools", "website", Strings(), "[school] website", "its web hosts"},
      {"schools", "official_social", Strings(), "[school] official_social",
       "its own social accounts"},
      {"schools", "whistleblowing_domains", Strings(), "[school] whistleblowing_domains",
       "prescribed bodies for its staff"},
      {"schools", "roster", Path(), "[school] roster", "its MIS roster"},
      {"schools", "parent_contacts", Path(), "[school] parent_contacts",
       "its MIS parent-contacts export"},
      // Read by policy-review only (review/config.cpp load_schools): the school's notices.
      {"schools", "notice_from", Str(), "[review] notice_from", "sender of its notices"},
      {"schools", "reviewer_title", Str(), "[review] reviewer_title",
       "how its notices name the reviewer"},
      {"schools", "head_teacher_names", Strings(), "[review] head_teacher_names",
       "names {head} stands for in its routes"},
      {"schools", "chair_names", Strings(), "[review] chair_names",
       "names {chair} stands for in its routes"},

      {"recipients", "webmail_domains", Strings(), "[]",
       "personal webmail providers; \"name.*\" matches any suffix"},
      {"recipients", "lookalike_max_distance", Int(1, 10), "2",
       "edits from a staff domain that make a lookalike"},
      {"recipients", "disclosed_addresses", Int(0, 100000), "4",
       "outside addresses in To+Cc that disclose each other (0: off)"},

      {"rules", "dir", Path(), "\"../rules\"", "the shipped rules (replaced on upgrade)"},
      {"rules", "local_dir", Path(), "\"local.d\"",
       "the school's own rule files (never touched by an upgrade)"},

      {"actions", "*", ActionCell(), "", "per category: { internal = ACTION, outside = ACTION }"},
      {"actions", "misaddress", OneOf({"hold", "accept", "tag", "quarantine"}), "\"hold\"",
       "a lookalike recipient and no category (hold: that recipient only, sender told)"},
      {"actions", "mode", OneOf({"enforce", "monitor"}), "\"enforce\"",
       "monitor: deliver untouched, log and count what would have been held"},

      {"exceptions", "staff_roles", Path(), "\"\"", "the MIS staff export: address,role[;role]"},
      {"exceptions.lists", "*", Strings(), "", "a named list of addresses or domains"},
      {"exceptions.rule", "name", Str(), "", "the exception's name, in logs and counts"},
      {"exceptions.rule", "senders", Strings(), "[]", "sender addresses"},
      {"exceptions.rule", "sender_roles", Strings(), "[]", "staff roles from staff_roles"},
      {"exceptions.rule", "recipients", Strings(), "[]", "recipient addresses or domains"},
      {"exceptions.rule", "recipient_lists", Strings(), "[]", "names of [exceptions.lists]"},
      {"exceptions.rule", "categories", Strings(), "[]", "the categories it covers"},
      {"exceptions.rule", "action", OneOf({"deliver", "tag"}), "\"deliver\"",
       "what happens instead"},
      {"exceptions.rule", "expires", Date(), "", "last day it applies (inclusive)"},

      {"limits", "max_message_bytes", Int(1, kTiB), "67108864",
       "bigger mail is not decoded (unscannable)"},
      {"limits", "max_header_line_bytes", Int(1, kTiB), "262144",
       "longer header lines are cut before parsing"},
      {"limits", "max_mime_depth", Int(1, 10000), "40", "multipart/rfc822 nesting"},
      {"limits", "max_parts", Int(1, 10000000), "2000", "MIME parts walked"},
      {"limits", "max_decoded_bytes", Int(1, kTiB), "67108864", "text handed to the matcher"},
      {"limits", "max_attachment_bytes", Int(1, kTiB), "33554432",
       "one attachment opened by an extractor"},
      {"limits", "max_archive_depth", Int(1, 100), "4", "archive in archive"},
      {"limits", "max_archive_members", Int(1, 10000000), "2000",
       "members of one attachment's archives"},
      {"limits", "max_archive_bytes", Int(1, kTiB), "209715200",
       "inflated bytes of one attachment's archives"},
      {"limits", "max_compression_ratio", Int(1, 1000000), "200",
       "inflated/compressed ratio (bombs)"},
      {"limits", "sheet_segment_bytes", Int(1024, kTiB), "1048576",
       "rows of a streamed sheet per segment"},
      {"limits", "extractor_memory_bytes", Int(kMiB, kTiB), "268435456",
       "address space of a legacy-Office child"},
      {"limits", "extractor_timeout_ms", Int(1, 3600000), "10000",
       "wall-clock time of a legacy-Office child"},
      {"limits", "scan_time_budget_ms", Int(1, 3600000), "20000",
       "wall-clock budget for decoding one message"},

      {"milter", "socket", Str(), "\"unix:/var/spool/postfix/policy-milter/milter.sock\"",
       "inet:PORT@HOST or unix:PATH"},
      {"milter", "on_error", OneOf({"tempfail", "reject", "accept"}), "\"tempfail\"",
       "the answer when the engine fails"},
      {"milter", "scan_timeout_seconds", Int(1, 3600), "30", "per-message time budget"},
      {"milter", "idle_timeout_seconds", Int(1, 86400), "300",
       "a connection idle between commands is closed"},
      renamed("milter", "milter_timeout_seconds", Int(1, 86400), "idle_timeout_seconds"),
      {"milter", "handshake_timeout_seconds", Int(1, 3600), "10",
       "a new connection that sends nothing is closed"},
      {"milter", "max_connections", Int(1, 100000), "1000", "connections served at once"},
      {"milter", "scan_workers", Int(0, 256), "0", "scan workers (0 = one per core)"},
      {"milter", "large_message_bytes", Int(1, kTiB), "2097152",
       "mail this large runs on all workers but one"},
      {"milter", "memory_budget_bytes", Int(16 * kMiB, std::int64_t(1) << 44), "1073741824",
       "memory of messages being scanned"},
      {"milter", "scan_memory_factor", Int(1, 1000), "20", "each message reserves this x its size"},
      {"milter", "spill_bytes", Int(4096, std::int64_t(1) << 34), "1048576",
       "larger messages are spooled to a file"},
      {"milter", "spill_dir", Path(), "\"/tmp\"", "where they are spooled"},
      {"milter", "split_recipients", Bool(), "false",
       "deliver to internal recipients, hold only outside copies"},
      {"milter", "internal_networks", Networks(), "[]",
       "networks whose mail is outgoing (loopback always is)"},
      {"milter", "stats_file", Path(), "\"/run/policy-milter/stats.json\"",
       "written for policyctl status"},
      {"milter", "cache_dir", Path(), "\"/var/cache/policy-milter\"",
       "compiled rules, so a restart does not recompile"},

      {"quarantine", "dir", Path(), "\"/var/lib/policy-milter/quarantine\"",
       "SQLite index and one file per held message"},
      {"quarantine", "put_timeout_ms", Int(100, 600000), "20000",
       "longest a held message waits for the index"},
      {"quarantine", "integrity_check", Bool(), "true", "PRAGMA quick_check at start-up"},
      {"quarantine", "alert_to", Strings(), "[]", "who is mailed when quarantining stops"},
      {"quarantine", "backend", OneOf({"sqlite", "postgresql"}), "\"sqlite\"",
       "where held mail lives: dir (SQLite + files) or one PostgreSQL database"},
      {"quarantine", "dsn", Str(), "\"\"", "libpq connection string (backend = postgresql)"},
      {"quarantine", "pg_connections", Int(1, 256), "4", "connections each process keeps"},
      {"quarantine", "pg_query_timeout_ms", Int(100, 600000), "10000",
       "a query other than a put is cancelled after this"},

      {"metrics", "listen", Str(), "\"\"",
       "HOST:PORT of the Prometheus listener; empty: off (checked by the metrics reader)"},
      {"metrics", "allow_non_loopback", Bool(), "false", "allow a listener off loopback"},
      {"metrics", "request_timeout_ms", Int(100, 60000), "2000",
       "a client with no complete request in this time is closed"},

      {"review", "listen", Endpoint(), "\"127.0.0.1:8025\"", "where the page listens"},
      {"review", "public_url", Str(), "\"http://LISTEN/\"",
       "the address reviewers open; put in notices"},
      {"review", "tls_cert", Path(), "\"\"", "PEM certificate to serve HTTPS (with tls_key)"},
      {"review", "tls_key", Path(), "\"\"", "PEM key to serve HTTPS (with tls_cert)"},
      {"review", "session_minutes", Int(1, kBig), "30", "idle session lifetime"},
      {"review", "session_max_hours", Int(1, kBig), "12", "absolute session lifetime"},
      {"review", "signin_free_attempts", Int(1, kBig), "5", "failed sign-ins before delays start"},
      renamed("review", "signin_attempts", Int(1, kBig), "signin_free_attempts"),
      ignored("review", "signin_lockout_minutes", Int(0, kBig), "signin_max_delay_seconds",
              "ignored: failed sign-ins get growing delays up to signin_max_delay_seconds"),
      {"review", "signin_max_delay_seconds", Int(1, kBig), "900",
       "longest delay after failed sign-ins"},
      {"review", "trusted_proxies", Strings(), "[]", "proxies whose X-Forwarded-For is believed"},
      {"review", "allowed_hosts", Strings(), "[]",
       "Host names the page answers besides listen and public_url"},
      {"review", "max_connections", Int(1, kBig), "512", "open connections at once"},
      {"review", "max_connections_per_client", Int(1, kBig), "32",
       "connections per client address"},
      {"review", "request_deadline_seconds", Int(1, kBig), "10",
       "the whole request, first byte to last"},
      {"review", "max_header_bytes", Int(1, kBig), "16384", "request line and headers"},
      {"review", "max_headers", Int(1, kBig), "64", "header lines"},
      {"review", "claim_timeout_seconds", Int(1, kBig), "600",
       "a release claim left by a dead process expires"},
      {"review", "users_db", Path(), "\"/var/lib/policy-review/users.sqlite\"",
       "reviewer accounts"},
      {"review", "reinject", Endpoint(), "\"127.0.0.1:10026\"",
       "loopback SMTP listener for released mail and notices"},
      {"review", "notice_from", Str(), "\"mail-policy@localhost\"", "sender of the notices"},
      {"review", "reviewer_title", Str(), "\"the head teacher\"", "how notices name the reviewer"},
      {"review", "reviewer_notices", OneOf({"immediate", "digest"}), "\"immediate\"",
       "one notice per message or a digest"},
      {"review", "digest_minutes", Int(1, kBig), "240", "how often the digest goes out"},
      {"review", "head_teacher_names", Strings(), "[]", "names {head} stands for in route terms"},
      {"review", "chair_names", Strings(), "[]", "names {chair} stands for in route terms"},
      {"review", "fallback_reviewers", Strings(), "[\"duty:deputy\", \"duty:chair\"]",
       "who reviews when a route leaves nobody"},

      {"review", "sender_link_days", Int(1, kBig), "14", "a sender's link works this many days"},
      {"review", "sender_reason_max_bytes", Int(1, kBig), "1000", "one reason a sender adds"},
      {"review", "sender_reasons_max", Int(1, kBig), "10", "reasons per message"},

      {"review.cover", "escalate_after_hours", Int(0, kBig), "24",
       "undecided mail is told to the next deputy after this (0: never)"},
      {"review.cover", "deputies", Strings(), "[]", "deputies of mail no route matches"},
      {"review.cover", "refuse_after_school_days", Int(0, kBig), "0",
       "undecided mail is refused after this many school days (0: held_days instead)"},
      {"review.cover.term_dates", "start", Date(), "", "the term's first day"},
      {"review.cover.term_dates", "end", Date(), "", "the term's last day"},

      {"review.retention", "held_days", Int(1, kBig), "14",
       "undecided held mail is refused after this"},
      {"review.retention", "decided_days", Int(1, kBig), "30",
       "released and refused mail is purged after this"},
      {"review.retention", "monitor_days", Int(1, kBig), "14",
       "monitor mode's evidence is deleted after this"},

      {"review.routes", "name", Str(), "\"route N\"", "the route's name, in the audit log"},
      {"review.routes", "categories", Strings(), "[]", "any of these categories (empty: any)"},
      {"review.routes", "terms", Strings(), "[]", "any of these terms in the message"},
      {"review.routes", "reviewers", Strings(), "",
       "logins or duty:X who review it (at least one)"},
      {"review.routes", "exclude", Strings(), "[]", "logins or duty:X who never see it"},
      {"review.routes", "deputies", Strings(), "[]", "logins or duty:X who cover the route"},
  };
  return k;
}

const Table* find_table(std::string_view name) {
  for (const auto& t : tables())
    if (t.name == name) return &t;
  return nullptr;
}

const Key* find_key(std::string_view table, std::string_view name) {
  const Key* any = nullptr;
  for (const auto& k : keys()) {
    if (k.table != table) continue;
    if (k.name == name) return &k;
    if (k.name == "*") any = &k;
  }
  return any;
}

void require_key(std::string_view table, std::string_view key) {
  const Key* k = find_key(table, key);
  if (!k || k->name != key)
    throw std::logic_error(
        std::string(table) + "." + std::string(key) +
        " is read but not in the configuration schema (milter/config/schema.cpp)");
}

std::vector<std::string> key_names(std::string_view table) {
  std::vector<std::string> out;
  for (const auto& k : keys())
    if (k.table == table && k.name != "*" && k.status == Status::current) out.push_back(k.name);
  return out;
}

std::string describe(const Type& t) {
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& c : v) s += (s.empty() ? "" : ", ") + ("\"" + c + "\"");
    return s;
  };
  switch (t.kind) {
    case Kind::string:
      return "a string";
    case Kind::path:
      return "a path (a string)";
    case Kind::boolean:
      return "true or false";
    case Kind::integer:
      return "an integer from " + std::to_string(t.lo) + " to " + std::to_string(t.hi);
    case Kind::number:
      return "a number from " + std::to_string(t.lo) + " to " + std::to_string(t.hi);
    case Kind::strings:
      return "a list of strings";
    case Kind::choice:
      return "one of " + list(t.choices);
    case Kind::networks:
      return "a list of networks (\"10.0.0.0/8\", \"2001:db8::/32\")";
    case Kind::endpoint:
      return "\"host:port\"";
    case Kind::action_cell:
      return "{ internal = ACTION, outside = ACTION[, mode = \"enforce\"|\"monitor\"] } with "
             "ACTION one of " +
             list(t.choices);
    case Kind::date:
      return "a date (2027-07-31 or \"2027-07-31\")";
  }
  return "?";
}

}  // namespace pm::config
