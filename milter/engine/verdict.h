// The verdict: the contract between the engine and everything built on it (the milter's
// actions, `policyctl scan --json`, the quarantine store, the review page). Keep it stable;
// README.md ("The verdict") documents the JSON form.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "decode/segment.h"
#include "policy/action.h"
#include "policy/exceptions.h"
#include "policy/recipient_class.h"

namespace pm {

struct Finding {
  std::string rule;         // rule id, e.g. "confidential.nhs-number"
  std::string category;     // one of the five category ids, or "unscannable"
  std::string clause;       // the policy sentence the rule enforces
  std::string origin;       // Segment::origin
  std::size_t segment = 0;  // index into Verdict::segments
  std::size_t start = 0;    // byte offsets into that segment's text
  std::size_t end = 0;
  std::string evidence;  // segment text [start, end): personal data - never log it
  // Findings of rules that read the sentence layer: the target and the stance found in the
  // unit (sentence, row, item, Subject), e.g. `parent "your son"`, `demeaning "can't even
  // spell"`. Personal data like evidence. Empty for other rules.
  std::string target, stance;
};

struct RecipientVerdict {
  std::string address;
  RecipientClass cls = RecipientClass::external;
  Action action = Action::accept;
  std::vector<std::string> categories;  // categories that hold for this recipient
  // Who the recipient is (policy/recipient_role.h) and why; asked only when a finding's
  // category depends on it (social-contact) or the parent-contacts export is configured.
  std::string role, role_reason;
  // With the parent-contacts export: why a named pupil's details to this address are not
  // cleared ("pupil X is not listed for ADDR"). Personal data: --explain, never logs.
  std::string mismatch;
  // A lookalike recipient: the staff domain its domain looks like a typo of.
  std::string lookalike_of;
  // What this recipient's action would be without monitor mode (== action when enforcing).
  Action would_action = Action::accept;
};

struct Verdict {
  Action action = Action::accept;
  std::vector<std::string> categories;  // sorted, unique
  std::vector<RecipientVerdict> recipients;
  std::vector<std::string> notes;  // "probable-misaddress", "partner-alert", ...
  std::vector<Finding> findings;
  // Content that matched a rule whose category did not hold for these recipients (e.g.
  // confidential data sent only to staff). Not part of the decision; shown by --explain.
  std::vector<Finding> unapplied;
  // The decoded message, so the review page highlights findings from stored offsets.
  std::vector<Segment> segments;
  std::vector<AttachmentInfo> attachments;
  std::string sender;
  std::string subject;
  std::string message_id;
  std::string snapshot;  // id of the rules + configuration snapshot that judged it
  // The school the message belongs to ([[schools]] id; "" with one school) and, with
  // several, why: "st-annes (sender domain stannes.example)" (policy/schools.h). An id
  // and a domain, never an address: both may be logged.
  std::string school;
  std::string school_reason;
  // Several schools and no staff domain or staff-file row placed the sender: the message
  // went to a default school (counted by the daemon, never logged with the address).
  bool school_guessed = false;
  std::uint64_t elapsed_us = 0;
  // Exceptions ([exceptions], policy/exceptions.h) that capped a category for a recipient:
  // name, recipient, categories. Ids only: logged and counted.
  std::vector<AppliedException> exceptions;
  // Monitor mode ([actions] mode, or a category's mode = "monitor"): `monitor_all` when the
  // whole filter only watches (the milter then adds no header); `would_action` is what the
  // filter would have done; `monitored` the categories whose action monitor mode withheld
  // (empty when monitoring changed nothing).
  bool monitor_all = false;
  Action would_action = Action::accept;
  std::vector<std::string> monitored;
  bool monitoring() const { return would_action != action; }
};

}  // namespace pm
