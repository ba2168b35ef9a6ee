// policy-review's configuration: the [review] table of policy-milter.toml (documented key
// by key in conf/policy-milter.toml), plus what it shares with the milter: [quarantine]
// dir and the school's domains (recipient classes for "why this recipient matters").
//
// Errors: ConfigError with file:line. Immutable once loaded.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "engine/config.h"
#include "notify/smtp.h"
#include "quarantine/open_store.h"
#include "review/school_days.h"

namespace pm {

// Who reviews a held message. The first route whose categories and terms match decides:
// only `reviewers` may see and decide it, and never anyone in `exclude` (a complaint about
// the head teacher goes to the chair of governors, not to the head). Unrouted mail goes to
// every account whose category scope covers one of its categories.
// Reviewers and exclusions are logins or "duty:X" (every account with duty X, resolved
// when the message is opened, so a new deputy sees what the route allows).
struct ReviewRoute {
  std::string name;
  std::vector<std::string> categories;  // any of these; empty = any category
  // Any of these, case-insensitive, at word boundaries, in the decoded text; "{head}" and
  // "{chair}" stand for each of head_teacher_names / chair_names.
  std::vector<std::string> terms;
  // The terms as written (lower case, "{head}"/"{chair}" unexpanded): a school with its
  // own head_teacher_names / chair_names expands them with its names (route_terms()).
  std::vector<std::string> written_terms;
  std::vector<std::string> reviewers;
  std::vector<std::string> exclude;
  // Cover (issue 13): deputies or delegates, in order. They may see and decide the route's
  // mail like its reviewers, and are told of it one by one as it waits undecided
  // (escalate_after_hours, then the next after as long again, ...).
  std::vector<std::string> deputies;
};

// One school of a trust ([[schools]], issue 15) as the review page needs it. Loading fills
// every review-side key a school leaves out with [review]'s value, so these are the values
// in force for its mail.
struct ReviewSchool {
  std::string id;    // ^[a-z0-9][a-z0-9-]{0,31}$, unique; QuarantineItem::school
  std::string name;  // in notices and on the page
  std::vector<std::string> staff_domains;  // "looks like a typo of ..." (default [school]'s)
  std::string notice_from, reviewer_title;
  std::vector<std::string> head_teacher_names, chair_names;
};

struct ReviewConfig {
  std::filesystem::path file;
  std::string listen_host = "127.0.0.1";
  int listen_port = 8025;
  std::string public_url;  // in notices; default http://listen/
  int session_minutes = 30;
  int held_days = 14;     // undecided held mail is refused after this many days
  int decided_days = 30;  // released/refused mail is purged after this many days
  // Monitor mode's evidence (what would have been held) is deleted after this many days.
  int monitor_days = 14;
  bool digest = false;  // reviewer notices: false = one per message, true = a digest
  int digest_minutes = 240;
  SmtpEndpoint reinject{"127.0.0.1", 10026};
  std::string notice_from = "mail-policy@localhost";
  std::string reviewer_title = "the head teacher";
  std::filesystem::path users_db = "/var/lib/policy-review/users.sqlite";
  std::filesystem::path tls_cert, tls_key;  // both set: serve HTTPS
  int session_max_hours = 12;               // absolute lifetime of a session (and of its cookie)
  // Sign-in: after signin_free_attempts failures (per login, and per client address) each
  // further attempt waits twice as long as the last, 1 s, 2 s, 4 s ... up to
  // signin_max_delay_seconds.
  int signin_free_attempts = 5;
  int signin_max_delay_seconds = 900;
  // Client addresses of reverse proxies whose X-Forwarded-For names the real client.
  std::vector<std::string> trusted_proxies;
  // The HTTP front end (server.cpp): limits against slow or greedy clients.
  int max_connections = 512;            // open connections at once
  int max_connections_per_client = 32;  // per client address
  int request_deadline_seconds = 10;    // the whole request, first byte to last
  int max_header_bytes = 16384;         // request line + headers
  int max_headers = 64;                 // header lines
  // Host header values accepted (besides the listen address and public_url's host).
  std::vector<std::string> allowed_hosts;
  // Claims of a decider that died mid-release are returned to held after this long.
  int claim_timeout_seconds = 600;
  // Names that routes' terms can use ({head}, {chair}); when nobody but the sender or an
  // excluded account could review a message, these reviewers do.
  std::vector<std::string> head_teacher_names, chair_names;
  std::vector<std::string> fallback_reviewers = {"duty:deputy", "duty:chair"};
  // Senders' links (issue 13): the link in a sender's notice works this many days.
  int sender_link_days = 14;
  int sender_reason_max_bytes = 1000;  // one reason a sender adds
  int sender_reasons_max = 10;         // reasons per message
  // Cover ([review.cover], issue 13). escalate_after_hours: undecided held mail is told to
  // the next deputy on its route after this many hours (0 = never); `deputies` are the
  // deputies of unrouted mail. refuse_after_school_days: undecided held mail is refused
  // after this many school days (0 = off; then [review.retention] held_days applies
  // instead), counted with `calendar` and only ever on a school day.
  int escalate_after_hours = 24;
  int refuse_after_school_days = 0;
  std::vector<std::string> deputies;
  SchoolCalendar calendar;
  bool public_url_set = false;  // public_url given (notices link there), not the default
  std::vector<ReviewRoute> routes;
  std::filesystem::path quarantine_dir = "/var/lib/policy-milter/quarantine";
  // The store to open ([quarantine] backend, dir, dsn, pg_*: quarantine/open_store.h);
  // its dir is quarantine_dir.
  StoreConfig store;
  Config engine;  // [school], [recipients]: names and recipient classes
  // Schools as tenants (issue 15): [trust] name and the [[schools]] in file order; none =
  // one school ([school]), whose mail everyone with an account reviews. Mail stored with
  // no school (before [[schools]] were configured) belongs to the first school listed.
  std::string trust_name;
  std::vector<ReviewSchool> schools;
  const ReviewSchool* school(std::string_view id) const;  // nullptr when not configured
};

ReviewConfig load_review_config(const std::filesystem::path& file);

// `written` terms with "{head}" / "{chair}" replaced by each of the names (lower case).
std::vector<std::string> route_terms(const std::vector<std::string>& written,
                                     const std::vector<std::string>& head_teacher_names,
                                     const std::vector<std::string>& chair_names);

// A [[schools]] id: ^[a-z0-9][a-z0-9-]{0,31}$.
bool valid_school_id(std::string_view id);

}  // namespace pm
