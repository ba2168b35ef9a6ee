#include "policy/judge.h"

#include <algorithm>
#include <set>

namespace pm {

Judgement judge(const JudgeInput& in, const JudgePolicy& policy) {
  Judgement j;
  // A file scan with no recipients at all is judged as if it were going outside, perhaps to
  // a parent: the cautious reading when nobody can tell where it goes.
  std::vector<JudgeRecipient> recips = in.recipients;
  const bool synthetic = recips.empty();
  if (synthetic)
    recips.push_back({"", RecipientClass::external, false, RecipientRole::presumed_parent, {}});
  j.recipients.resize(recips.size());

  std::set<std::string> cats;
  bool lookalike = false, partner_held = false;
  for (std::size_t r = 0; r < recips.size(); ++r) {
    const JudgeRecipient& rc = recips[r];
    lookalike |= rc.cls == RecipientClass::lookalike;
    JudgedRecipient& out = j.recipients[r];
    for (const CategoryPolicy& c : policy.categories) {
      bool applies = false;
      if (c.id == "unscannable") {
        applies = in.unscannable;
      } else if (!c.roles.empty() &&
                 std::none_of(c.roles.begin(), c.roles.end(),
                              [&](const std::string& n) { return role_matches(n, rc.role); })) {
        applies = false;
      } else if (std::find(rc.cleared.begin(), rc.cleared.end(), c.id) != rc.cleared.end()) {
        applies = false;
      } else if (!(c.exempt_whistleblowing && rc.whistleblowing)) {
        double sum = 0;
        for (const JudgeHit& h : in.hits) {
          if (h.category != c.id) continue;
          const auto& cond = h.applies_to.empty() ? c.applies_to : h.applies_to;
          if (std::find(cond.begin(), cond.end(), rc.cls) != cond.end()) sum += h.weight;
        }
        applies = sum + 1e-9 >= c.threshold;
      }
      if (!applies) continue;
      Action a = is_outside(rc.cls) ? c.outside : c.internal;
      if (auto cap = rc.caps.find(c.id); cap != rc.caps.end()) {
        a = std::min(a, cap->second);
        out.excepted.push_back(c.id);
      }
      out.action = max(out.action, a);
      out.categories.push_back(c.id);
      cats.insert(c.id);
    }
    std::sort(out.categories.begin(), out.categories.end());
  }
  // The "all internal / any outside" matrix: a category that holds and has any outside
  // recipient puts every recipient it holds for in the outside column.
  for (const CategoryPolicy& c : policy.categories) {
    if (!cats.count(c.id)) continue;
    bool any_outside = false;
    for (std::size_t r = 0; r < recips.size(); ++r)
      if (is_outside(recips[r].cls) &&
          std::find(j.recipients[r].categories.begin(), j.recipients[r].categories.end(), c.id) !=
              j.recipients[r].categories.end())
        any_outside = true;
    for (std::size_t r = 0; r < recips.size(); ++r) {
      auto& rc = j.recipients[r];
      if (std::find(rc.categories.begin(), rc.categories.end(), c.id) == rc.categories.end())
        continue;
      Action a = any_outside ? c.outside : c.internal;
      if (auto cap = recips[r].caps.find(c.id); cap != recips[r].caps.end())
        a = std::min(a, cap->second);
      j.action = max(j.action, a);
    }
  }
  for (std::size_t r = 0; r < recips.size(); ++r) {
    j.action = max(j.action, j.recipients[r].action);
    if (recips[r].cls == RecipientClass::partner && j.recipients[r].action == Action::quarantine)
      partner_held = true;
  }
  j.categories.assign(cats.begin(), cats.end());
  if (lookalike) {
    j.notes.push_back("probable-misaddress");
    if (cats.empty()) {
      j.action = max(j.action, policy.misaddress);
      for (std::size_t r = 0; r < recips.size(); ++r)
        if (recips[r].cls == RecipientClass::lookalike)
          j.recipients[r].action = max(j.recipients[r].action, policy.misaddress);
    }
  }
  if (partner_held) j.notes.push_back("partner-alert");
  if (synthetic) {
    j.notes.push_back("no-recipients");
    j.recipients.clear();
  }
  std::sort(j.notes.begin(), j.notes.end());
  return j;
}

}  // namespace pm
