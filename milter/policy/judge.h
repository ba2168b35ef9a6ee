// The judge pass: content findings + recipient classes -> categories and actions
// (POLICY.md, "Actions"). Pure: no I/O, no allocation beyond the result.
//
// A category first has to hold by content (the weights of its distinct rules reach the
// category's threshold), then by its recipient condition (at least one recipient whose
// class is in `applies_to`; prescribed whistleblowing bodies never satisfy `disrepute`).
// Each recipient's action is the worst matrix cell over the categories that hold for it
// (its own class picks the column); the message's action is the worst recipient action.
// `unscannable` holds for every recipient. A lookalike recipient adds the note
// "probable-misaddress" and, with no category, the configured misaddress action.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "policy/action.h"
#include "policy/recipient_class.h"

namespace pm {

struct CategoryPolicy {
  std::string id;
  std::vector<RecipientClass> applies_to;
  double threshold = 1.0;
  Action internal = Action::accept;  // matrix cell when the recipient is internal
  Action outside = Action::quarantine;
  bool exempt_whistleblowing = false;  // disrepute: prescribed bodies do not count
};

struct JudgeRecipient {
  std::string address;
  RecipientClass cls = RecipientClass::external;
  bool whistleblowing = false;
};

struct JudgeInput {
  // category id -> summed weight of its distinct rules that fired
  std::map<std::string, double> weights;
  bool unscannable = false;
  std::vector<JudgeRecipient> recipients;
};

struct JudgedRecipient {
  Action action = Action::accept;
  std::vector<std::string> categories;
};

struct Judgement {
  Action action = Action::accept;
  std::vector<std::string> categories;  // sorted
  std::vector<JudgedRecipient> recipients;  // parallel to JudgeInput::recipients
  std::vector<std::string> notes;           // sorted
};

struct JudgePolicy {
  std::vector<CategoryPolicy> categories;  // includes "unscannable"
  Action misaddress = Action::tag;
};

Judgement judge(const JudgeInput& in, const JudgePolicy& policy);

}  // namespace pm
