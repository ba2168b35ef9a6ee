#include "daemon/actions.h"

#include <algorithm>

#include "util/strings.h"

namespace pm {

const char* to_string(Outcome o) {
  switch (o) {
    case Outcome::accept: return "accept";
    case Outcome::tag: return "tag";
    case Outcome::quarantine: return "quarantine";
    case Outcome::split: return "split";
  }
  return "accept";
}

namespace {

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

// Keeps header values to safe id characters, so nothing odd reaches a header.
std::string id_only(std::string_view s) {
  std::string out;
  for (char c : s)
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' || c == ':')
      out.push_back(c);
  return out;
}

}  // namespace

ActionPlan plan_actions(const Verdict& v, const std::vector<std::string>& rcpt_args,
                        const std::vector<std::string>& rcpts, bool split) {
  ActionPlan plan;
  for (const Finding& f : v.findings) {
    std::string id = id_only(f.rule);
    if (!id.empty() && std::find(plan.rules.begin(), plan.rules.end(), id) == plan.rules.end())
      plan.rules.push_back(id);
  }
  Action delivered_action = v.action;
  if (v.action == Action::quarantine) {
    if (split) {
      // Which recipients the engine holds; a recipient it did not judge is held too.
      for (std::size_t i = 0; i < rcpt_args.size(); ++i) {
        const std::string& addr = i < rcpts.size() ? rcpts[i] : rcpt_args[i];
        auto rv = std::find_if(v.recipients.begin(), v.recipients.end(),
                               [&](const RecipientVerdict& r) { return iequals(r.address, addr); });
        if (rv == v.recipients.end() || rv->action == Action::quarantine)
          plan.held.push_back(rcpt_args[i]);
        else
          plan.delivered.push_back(rcpt_args[i]);
      }
      delivered_action = Action::accept;
      for (const RecipientVerdict& r : v.recipients)
        if (r.action != Action::quarantine) delivered_action = max(delivered_action, r.action);
    } else {
      plan.held = rcpt_args;
    }
    if (plan.delivered.empty()) {
      plan.outcome = Outcome::quarantine;
      plan.held = rcpt_args;
      return plan;  // discarded: no headers to add
    }
    plan.outcome = Outcome::split;
  } else {
    plan.delivered = rcpt_args;
    plan.outcome = v.action == Action::tag ? Outcome::tag : Outcome::accept;
  }

  std::string verdict = plan.outcome == Outcome::split
                            ? std::string(to_string(delivered_action)) + "; held=" + std::to_string(plan.held.size())
                            : std::string(to_string(v.action));
  if (!v.snapshot.empty()) verdict += "; snapshot=" + id_only(v.snapshot);
  std::vector<std::string> notes;
  for (const auto& n : v.notes) notes.push_back(id_only(n));
  if (!notes.empty()) verdict += "; notes=" + join(notes, ",");
  plan.add_headers.emplace_back("X-Policy-Verdict", verdict);
  if (plan.outcome != Outcome::accept && !v.categories.empty()) {
    std::vector<std::string> cats;
    for (const auto& c : v.categories) cats.push_back(id_only(c));
    plan.add_headers.emplace_back("X-Policy-Categories", join(cats, ", "));
  }
  if (plan.outcome != Outcome::accept && !plan.rules.empty())
    plan.add_headers.emplace_back("X-Policy-Rules", join(plan.rules, ", "));
  return plan;
}

bool is_policy_header(std::string_view name) { return istarts_with(name, "x-policy-"); }

void ForgedHeaders::seen(std::string_view name) {
  if (!is_policy_header(name)) return;
  for (auto& [n, count] : names_)
    if (iequals(n, name)) {
      ++count;
      return;
    }
  names_.emplace_back(std::string(name), 1);
}

std::vector<std::pair<std::string, int>> ForgedHeaders::deletions() const {
  std::vector<std::pair<std::string, int>> out;
  for (const auto& [n, count] : names_)
    for (int i = count; i >= 1; --i) out.emplace_back(n, i);
  return out;
}

}  // namespace pm
