// ReviewService: what the review page and `policyctl quarantine` do with held mail, over
// the quarantine store, independent of HTTP.
//
//   routing      who may see and decide a message: the first matching route (config.h
//                ReviewRoute) is decided once, while the text is there, and stored with
//                the message; the people are resolved from it at access time (logins and
//                "duty:X"), never the sender, never an excluded account; when nobody is
//                left, [review] fallback_reviewers. Unrouted: the accounts' category scope.
//   list/detail  JSON for the page: recipients with their class and why it matters,
//                decoded segments with every finding's offsets (UTF-16, as the browser
//                counts) taken from the stored verdict - never a new search
//   release      claims the message in the store (one transaction; any other decision
//                meanwhile, in any process, is a DecisionConflict), then reinjects the
//                stored bytes, unchanged but for one X-Policy-Released-By header, to the
//                chosen held recipients through the loopback listener that skips the
//                milter; the outcome is recorded per attempt: delivered ("released"), or
//                failed, back to held ("release-failed", ReleaseFailed). The sender is
//                told only what happened.
//   refuse       deletes the message (store) and tells the sender, with the note
//   dismiss      "not a violation": rule + short redacted context for the IT admin, and
//                a proposed exception (sender, held recipients, the rule's category)
//   monitor      monitor mode's "would have been held" list, from the stored verdicts
//   senders     (issue 13) the sender's notice links to one message: an HMAC-signed token
//                "ID.EXPIRY.SIGNATURE" (key: the store's secret "sender-link", so every
//                process signs alike; expiry: received + sender_link_days). With it, and
//                no account, the sender sees the status, may withdraw the message (refused
//                and deleted, audited "withdrawn" by "sender:<address>") or add a reason
//                for the reviewer (audited "sender-reason", shown on the detail page).
//                The sender sees only what they chose or wrote and the outcome: state,
//                received, recipients (held/released), the policy clauses, the Subject
//                (unless a finding lies in it), their own reasons - never the evidence,
//                the decoded text, other findings, the route or who reviews it.
//   cover       (issue 13) route deputies may decide like reviewers; undecided mail is
//                told to the next deputy after escalate_after_hours each (escalate());
//                retention refuses after refuse_after_school_days school days instead of
//                held_days when that is set, and never on a day that is not a school day.
//   outbox      notices queued by any process (notify/outbox.h queue_notice) are sent by
//                send_notices() once, whichever process drains first.
//   housekeeping notices (sender: held; reviewers: immediately, urgent for partner mail,
//                or as a digest) and retention (undecided after held_days: refused,
//                sender and reviewers told; decided after decided_days: purged)
//
//   schools     (issue 15) with [[schools]] configured, every account sees only the mail
//                of its schools (Account::schools; dpo and it-admin: every school): lists,
//                details, counts, the audit log, monitor entries and notices are scoped in
//                the store query and again per message; routes apply within the school
//                (their reviewers, deputies and fallbacks are accounts of the message's
//                school); notices use the school's name, notice_from and reviewer_title.
//                Mail stored with no school belongs to the first school listed.
//
// Every view and decision is in the store's append-only audit log with the actor's login.
// Errors: NotFound (unknown id or out of the account's scope - the same answer, so scope
// does not leak), BadRequest (a malformed request, e.g. recipients that are not held),
// DecisionConflict (claimed or already decided), std::invalid_argument (a decision not
// allowed now), ReleaseFailed.
// Thread safety: all methods may be called concurrently (the store serialises).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "notify/notices.h"
#include "quarantine/store.h"
#include "review/accounts.h"
#include "review/config.h"

namespace pm {

class NotFound : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class ReleaseFailed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class BadRequest : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// A sender's link that is malformed, tampered with or expired (HTTP 403).
class LinkRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Housekeeping {
  int sender_notices = 0, reviewer_notices = 0, expired = 0, purged = 0, failures = 0;
  int escalations = 0, outbox = 0;  // escalation notices; queued notices sent
};

class ReviewService {
 public:
  // `clock`: unix seconds now (tests pass a fake one); default the system clock.
  using Clock = std::function<std::int64_t()>;
  ReviewService(ReviewConfig config, QuarantineBackend& store, UserStore& users, Clock clock = {});

  const ReviewConfig& config() const { return config_; }
  std::int64_t now() const { return clock_(); }
  QuarantineBackend& store() { return store_; }

  // Routing (see above).
  bool may_review(const Account& a, const QuarantineItem& item);
  std::vector<Account> reviewers_of(const QuarantineItem& item);
  std::string route_of(QuarantineItem item);  // route name, "" when unrouted
  // The logins among `accounts` that may review `item` (stores its route if not yet).
  std::vector<std::string> reviewer_logins(QuarantineItem item,
                                           const std::vector<Account>& accounts);
  // The route for `item` from the configuration: {"name","reviewers","exclude"}.
  nlohmann::json decide_route(const QuarantineItem& item);
  // Decides and stores the route of a held message that has none (first writer wins).
  void ensure_route(QuarantineItem& item);
  int assign_routes();  // every held message without a route; returns how many

  nlohmann::json list(const Account& a, const QuarantineFilter& f);
  nlohmann::json detail(const Account& a, const std::string& id);  // audits "viewed"
  // The same for the IT admin's command line (no routing scope), audited as `actor`.
  nlohmann::json detail_unscoped(const std::string& actor, const std::string& id);
  // `recipients` nullopt = every held recipient; otherwise a non-empty list of held
  // recipients (BadRequest). Returns {released_to, fully_released, attempt}.
  nlohmann::json release(const std::string& actor, const std::string& id,
                         std::optional<std::vector<std::string>> recipients,
                         const std::string& note);
  void refuse(const std::string& actor, const std::string& id, const std::string& note);
  void dismiss(const std::string& actor, const std::string& id, const std::string& rule,
               const std::string& note);
  // A page of the audit log as `a` may see it: admins everything; reviewers the entries
  // of messages they may review and their own sign-ins. {entries:[...], next: seq|null}
  // (pass `next` as q.before for the following page).
  nlohmann::json audit(const Account& a, AuditQuery q);
  nlohmann::json dismissals(std::size_t limit);
  // The same as `a` may see them: those of messages of its schools.
  nlohmann::json dismissals(const Account& a, std::size_t limit);
  // Monitor mode: what would have been held or tagged, read-only, newest first - the
  // verdict's recipients and findings (rule, category, clause, evidence); the same
  // category scope as held mail (admins: everything). Audited "monitor-viewed".
  nlohmann::json monitor(const Account& a, std::size_t limit);
  // The proposed exceptions of "not a violation" decisions, as a configuration snippet
  // ([[exceptions.rule]] tables) for the IT admin to review and apply.
  std::string proposed_exceptions(std::size_t limit);

  // Checks the scope of `a` before release/refuse/dismiss (throws NotFound).
  QuarantineItem require(const Account& a, const std::string& id);

  // Schools (issue 15). The schools whose mail `a` may see, as a store filter (nullopt:
  // every school - one school configured, or a trust role; an empty list: none).
  std::optional<std::vector<std::string>> school_scope(const Account& a) const;
  bool in_school(const Account& a, const QuarantineItem& item) const;
  // The configured school of `item` (nullptr with one school or an unknown id).
  const ReviewSchool* school_of(const QuarantineItem& item) const;
  // Held, released and refused messages `a` may see, as the list shows them:
  // {"held": n, "released": n, "refused": n}.
  nlohmann::json counts(const Account& a);
  // The accounts `a` may see on the accounts page: everyone for a trust role or with one
  // school; otherwise those sharing a school with `a`, and the trust roles.
  std::vector<Account> visible_accounts(const Account& a);
  // For GET /api/session: the title, the school's (or trust's) name, the schools visible.
  nlohmann::json session_info(const Account& a);

  // Every pending notice once, across processes (claimed in the store): the outbox, the
  // senders' "held" notices, the reviewers' (immediate, urgent or digest) and escalation.
  Housekeeping send_notices(std::int64_t now, bool force_digest = false);
  Housekeeping retention(std::int64_t now);
  // Cover: held mail undecided for k * escalate_after_hours is told to the k-th deputy
  // entry of its route (or fallback_reviewers when it has none), each level once.
  Housekeeping escalate(std::int64_t now);

  // Senders' links (see above). LinkRefused for a bad or expired token; NotFound when the
  // message is gone from the store; DecisionConflict when it is no longer held.
  std::string sender_token(const QuarantineItem& item);
  std::string sender_link(const QuarantineItem& item);  // public_url + "sender#" + token
  nlohmann::json sender_view(const std::string& token);
  void sender_withdraw(const std::string& token);
  void sender_annotate(const std::string& token, const std::string& reason);

  // One held message as `policyctl quarantine list --json` prints it.
  nlohmann::json summary(const QuarantineItem& item);
  // Recipient classes with the reason they matter ("personal Gmail", "looks like a typo
  // of stannes.example").
  nlohmann::json recipients(const QuarantineItem& item, const nlohmann::json& verdict);

 private:
  nlohmann::json verdict_of(const std::string& id);
  // Sends `n` for `item`, as its school (envelope sender, From, name, reviewer title).
  bool send(const Notice& n, const QuarantineItem& item);
  NoticeSettings notice_settings(const QuarantineItem& item) const;
  QuarantineItem sender_item(const std::string& token);  // checks the token
  std::vector<std::string> emails_of(const QuarantineItem& item, const std::string& entry);
  int send_outbox(std::int64_t now);
  void refuse_expired(const QuarantineItem& item, const std::string& actor, const std::string& why,
                      Housekeeping& h);

  ReviewConfig config_;
  QuarantineBackend& store_;
  UserStore& users_;
  Clock clock_;
};

// Byte offset in UTF-8 `s` -> UTF-16 code units (what JavaScript string indices count).
std::size_t utf16_index(const std::string& s, std::size_t byte_offset);
// "[address]" for e-mail addresses, '#' for digits, the evidence itself cut out.
std::string redacted_context(const std::string& text, std::size_t start, std::size_t end);

}  // namespace pm
