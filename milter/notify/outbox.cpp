#include "notify/outbox.h"

namespace pm {

bool queue_notice(QuarantineBackend& store, std::string_view id, std::string_view kind,
                  const Notice& n, const NoticeSettings& s) {
  return store.queue_notice(id, kind, s.from, n.to, n.render(s));
}

OutboxResult send_outbox(QuarantineBackend& store, const SmtpEndpoint& mta, std::int64_t now,
                         std::int64_t claim_timeout_seconds, std::string_view actor) {
  OutboxResult r;
  for (;;) {
    auto batch = store.claim_outbox(now, now - claim_timeout_seconds);
    if (batch.empty()) return r;
    for (const auto& n : batch) {
      try {
        smtp_send(mta, SmtpEnvelope{n.from, n.rcpts}, n.data, 30);
        store.outbox_done(n.seq, true);
        ++r.sent;
      } catch (const SmtpError& e) {
        store.outbox_done(n.seq, false);
        store.audit(actor, "notice-failed", n.message_id, n.kind + ": " + e.what());
        ++r.failed;
        return r;
      }
    }
  }
}

}  // namespace pm
