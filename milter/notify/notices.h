// Notices about held mail, as plain-text RFC 5322 messages for the local MTA (smtp.h).
//
//   sender_held_notice     to the sender: the message was held, which policy clause(s)
//                          apply, the head teacher (or the reviewer) will decide; with the
//                          sender's own link (status, withdraw, add a reason) when given.
//   reviewer_alert         to reviewers: new held mail - ids, categories, recipients'
//                          classes, age and the review page's address; `urgent` for mail
//                          to a partner (a safeguarding referral must not wait); several
//                          messages in one notice for the digest.
//   sender_outcome_notice  to the sender: released (to whom), refused (with the
//                          reviewer's note) or refused because nobody decided in time.
//
// Privacy: a notice never carries the matched data, the message text or the evidence.
// The sender's own Subject is quoted only when no finding is in it (the caller says so);
// reviewers get no subject at all (notices may be read on a phone in the staff room).
// Every notice carries "Auto-Submitted: auto-generated" so auto-replies do not loop.
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "quarantine/store.h"

namespace pm {

struct NoticeSettings {
  std::string school_name = "the school";
  std::string from = "policy-review@localhost";  // envelope and header sender
  std::string review_url;                        // e.g. "http://127.0.0.1:8025/"
  std::string reviewer_title = "the head teacher";
};

struct Notice {
  std::vector<std::string> to;  // envelope recipients
  std::string subject;          // UTF-8; encoded in render()
  std::string body;             // UTF-8 text
  // The whole message: Date, From, To, Subject, Message-ID, MIME headers, body (CRLF).
  std::string render(const NoticeSettings& s) const;
};

// `clauses`: the policy sentences of the findings (unique), `quote_subject`: false when a
// finding lies in the Subject.
// `link`: the sender's page for this message ("" = none), working until `link_expiry`.
Notice sender_held_notice(const NoticeSettings& s, const QuarantineItem& item,
                          const std::vector<std::string>& clauses, bool quote_subject,
                          const std::string& link = {}, std::int64_t link_expiry = 0);

struct HeldSummary {
  QuarantineItem item;
  std::vector<std::string> recipient_notes;  // "parent@gmail.com: personal webmail"
};
Notice reviewer_alert(const NoticeSettings& s, const std::vector<std::string>& reviewers,
                      const std::vector<HeldSummary>& held, bool urgent, std::int64_t now);

enum class Outcome { released, released_partial, refused, expired };
Notice sender_outcome_notice(const NoticeSettings& s, const QuarantineItem& item, Outcome outcome,
                             const std::vector<std::string>& released_to, const std::string& note,
                             bool quote_subject);

}  // namespace pm
