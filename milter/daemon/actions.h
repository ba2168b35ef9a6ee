// From a Verdict to what the milter tells the MTA - pure, so it is unit-tested without
// libmilter (milter.cpp only carries the plan out). Also the put path (end of file): what
// is stored for a held message, and how faults of the store are reported.
//
//   accept      deliver; X-Policy-Verdict only (the message was checked)
//   tag         deliver with X-Policy-Verdict, X-Policy-Categories, X-Policy-Rules
//   quarantine  store durably, then discard (SMFIS_DISCARD)
//   split       (split_recipients = true, and some recipients are fine) store durably,
//               delete the held recipients (smfi_delrcpt), deliver the rest tagged;
//               always for a probable misaddress alone (held for the lookalike only)
//   monitor     ([actions] mode = "monitor") deliver with no header at all; categories
//               in monitor mode are left out of X-Policy-Categories / X-Policy-Rules
// Header values carry ids only (actions, categories, rule ids, snapshot) - never content.
// Forged X-Policy-* headers are removed in every case (forged_header_deletions()).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/config.h"
#include "engine/verdict.h"
#include "quarantine/open_store.h"

namespace pm {

enum class Outcome { accept, tag, quarantine, split };
const char* to_string(Outcome o);

struct ActionPlan {
  Outcome outcome = Outcome::accept;
  std::vector<std::pair<std::string, std::string>> add_headers;  // name, value
  std::vector<std::string> held;       // recipients (as given in RCPT TO) not delivered
  std::vector<std::string> delivered;  // recipients that still get the message
  std::vector<std::string> rules;      // unique rule ids, in finding order
};

// `rcpt_args` are the RCPT TO arguments as the MTA gave them, in order; `rcpts` the same
// as bare lower-case addresses (what the engine saw).
ActionPlan plan_actions(const Verdict& verdict, const std::vector<std::string>& rcpt_args,
                        const std::vector<std::string>& rcpts, bool split_recipients);

// True for header names this milter owns ("X-Policy-*", any case).
bool is_policy_header(std::string_view name);

// Tracks X-Policy-* headers as they arrive; deletions() gives (name, index) pairs for
// smfi_chgheader(ctx, name, index, NULL), highest index first per name so that removing
// one does not renumber the next.
class ForgedHeaders {
 public:
  void seen(std::string_view name);
  bool any() const { return !names_.empty(); }
  std::vector<std::pair<std::string, int>> deletions() const;
  void clear() { names_.clear(); }

 private:
  std::vector<std::pair<std::string, int>> names_;  // name as first seen, count (any case)
};

// ---- The put path (issue 11): held mail into the quarantine store ---------------------

// What the store keeps for a held message: envelope, labels, the verdict JSON and the
// idempotency digest of the envelope and the bytes as received (message_digest(): the
// client's retry of a deferred message, with a new queue id, is stored once).
QuarantineInput quarantine_input(const ActionPlan& plan, const Verdict& v,
                                 const std::string& sender, const std::vector<std::string>& rcpts,
                                 const std::string& queue_id, std::string_view raw,
                                 std::string verdict_json);

// The [quarantine] settings as the store takes them (backend, dir or dsn, timeouts).
StoreConfig store_config(const DaemonConfig& cfg);

// Opens the store for the daemon (open_store_for_put: QuarantineStore::open_for_put, or
// PostgreSQL - unreachable means unhealthy, every held message deferred) and logs what the start-up
// check found: re-indexed files, orphans, held rows without their file, a corrupt index. Throws
// StoreError when the directory is unusable.
std::unique_ptr<QuarantineBackend> open_quarantine(const DaemonConfig& cfg);

// Stores a held message and returns its id. When the store itself fails (corrupt index)
// it logs that at critical level and mails cfg.quarantine_alert_to - once per problem -
// and logs every recovery the store made (index deleted or replaced under it); then it
// rethrows, so the daemon defers the message. Thread-safe.
std::string hold_message(QuarantineBackend& store, const DaemonConfig& cfg, std::string_view raw,
                         const QuarantineInput& in);

}  // namespace pm
