// The judge pass: content findings + recipient classes -> categories and actions
// (POLICY.md, "Actions"). Pure: no I/O, no allocation beyond the result.
//
// A category holds for a recipient when the weights of its distinct rules whose recipient
// condition admits that recipient's class (the rule's own `applies_to`, else the
// category's) reach the category's threshold. Prescribed whistleblowing bodies never
// satisfy a category marked exempt_whistleblowing (disrepute, confidential).
// Each recipient's action is the worst matrix cell over the categories that hold for it
// (its own class picks the column); the message's action is the worst recipient action.
// A category with `roles` holds only for recipients of those roles; a category in a
// recipient's `cleared` list never holds for it. `unscannable` holds for every recipient. A
// lookalike recipient adds the note "probable-misaddress" and, with no category, the configured
// misaddress action (tag, or quarantine: held for the lookalike recipients only).
// A category with a cap in a recipient's `caps` (an exception) acts at most at the cap for
// that recipient, in both columns of the matrix; it still holds (and is listed).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "policy/action.h"
#include "policy/recipient_class.h"
#include "policy/recipient_role.h"

namespace pm {

struct CategoryPolicy {
  std::string id;
  std::vector<RecipientClass> applies_to;
  double threshold = 1.0;
  Action internal = Action::accept;  // matrix cell when the recipient is internal
  Action outside = Action::quarantine;
  bool exempt_whistleblowing = false;  // prescribed bodies do not count
  // Recipient roles (policy/recipient_role.h) the category counts for, besides its
  // classes: social-contact needs a pupil or a parent/carer. Empty: any role.
  std::vector<std::string> roles;
};

struct JudgeRecipient {
  std::string address;
  RecipientClass cls = RecipientClass::external;
  bool whistleblowing = false;
  RecipientRole role = RecipientRole::unknown;
  // Categories that do not hold for this recipient whatever the content: a named pupil's
  // details to an address the parent-contacts export lists for that pupil.
  std::vector<std::string> cleared;
  // Exceptions (policy/exceptions.h) for this sender and recipient: category -> the most
  // that category's action may be for this recipient (accept = deliver, tag).
  std::map<std::string, Action> caps;
};

// One distinct rule that fired.
struct JudgeHit {
  std::string category;
  std::string rule;
  double weight = 1.0;
  std::vector<RecipientClass> applies_to;  // empty: the category's condition
};

struct JudgeInput {
  std::vector<JudgeHit> hits;  // one per distinct rule
  bool unscannable = false;
  std::vector<JudgeRecipient> recipients;
};

struct JudgedRecipient {
  Action action = Action::accept;
  std::vector<std::string> categories;
  std::vector<std::string> excepted;  // categories that held and an exception capped
};

struct Judgement {
  Action action = Action::accept;
  std::vector<std::string> categories;      // sorted
  std::vector<JudgedRecipient> recipients;  // parallel to JudgeInput::recipients
  std::vector<std::string> notes;           // sorted
};

struct JudgePolicy {
  std::vector<CategoryPolicy> categories;  // includes "unscannable"
  Action misaddress = Action::tag;
};

Judgement judge(const JudgeInput& in, const JudgePolicy& policy);

}  // namespace pm
