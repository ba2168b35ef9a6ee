// The outbox: notices any process on the quarantine store can hand over for sending once
// (issue 13). The milter, say, queues an immediate notice for a held message; whichever
// process drains first - the milter itself right after, policy-review's housekeeping, or
// the every-minute `policyctl quarantine notify` timer - sends it, and nobody sends it
// twice: each (message id, kind) is queued once, and each queued notice is claimed in the
// store before it is sent (QuarantineStore::queue_notice / claim_outbox / outbox_done).
//
// Errors: StoreError from the store. A send the MTA refuses is not an error: the claim is
// freed (sent at a later drain), counted in `failed` and audited "notice-failed" with the
// MTA's reply (never the notice's text).
// Thread safety: any thread, any process (the store serialises).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "notify/notices.h"
#include "notify/smtp.h"
#include "quarantine/store.h"

namespace pm {

// Queues notice `n` about held message `id` as `kind` (e.g. "misaddress"); false when that
// kind was queued for that message before. Rendered now, with `s` (From, school name).
bool queue_notice(QuarantineBackend& store, std::string_view id, std::string_view kind,
                  const Notice& n, const NoticeSettings& s);

struct OutboxResult {
  int sent = 0, failed = 0;
};

// Sends every queued notice not yet sent through `mta`; a claim older than
// `claim_timeout_seconds` (a process that died mid-send) is taken over. Stops at the first
// refusal (the MTA is not taking mail: the rest waits). `actor` names this process in the
// audit log.
OutboxResult send_outbox(QuarantineBackend& store, const SmtpEndpoint& mta, std::int64_t now,
                         std::int64_t claim_timeout_seconds, std::string_view actor);

}  // namespace pm
