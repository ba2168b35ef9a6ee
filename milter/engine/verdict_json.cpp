#include "engine/verdict_json.h"

#include <nlohmann/json.hpp>

namespace pm {

namespace {

nlohmann::ordered_json finding_json(const Finding& f) {
  nlohmann::ordered_json j = {
      {"rule", f.rule},   {"category", f.category}, {"clause", f.clause},    {"origin", f.origin},
      {"start", f.start}, {"end", f.end},           {"evidence", f.evidence}};
  // The sentence layer's reading, when the rule used it (personal data, like evidence).
  if (!f.target.empty()) j["target"] = f.target;
  if (!f.stance.empty()) j["stance"] = f.stance;
  return j;
}

}  // namespace

std::string verdict_to_json(const Verdict& v, const std::string& file, const JsonOptions& opt) {
  nlohmann::ordered_json j;
  if (!file.empty()) j["file"] = file;
  j["action"] = to_string(v.action);

  j["categories"] = v.categories;
  auto& rs = j["recipients"] = nlohmann::ordered_json::array();
  for (const auto& r : v.recipients) {
    nlohmann::ordered_json o = {
        {"address", r.address}, {"class", to_string(r.cls)}, {"action", to_string(r.action)}};
    if (!r.role.empty()) o["role"] = r.role;
    if (!r.mismatch.empty()) o["mismatch"] = r.mismatch;
    if (!r.lookalike_of.empty()) o["lookalike_of"] = r.lookalike_of;
    if (r.would_action != r.action) o["would_action"] = to_string(r.would_action);
    rs.push_back(std::move(o));
  }
  j["notes"] = v.notes;
  auto& fs = j["findings"] = nlohmann::ordered_json::array();
  for (const auto& f : v.findings) fs.push_back(finding_json(f));
  if (opt.unapplied) {
    auto& us = j["unapplied"] = nlohmann::ordered_json::array();
    for (const auto& f : v.unapplied) us.push_back(finding_json(f));
  }
  j["elapsed_us"] = v.elapsed_us;
  // Exceptions used, and monitor mode's "would have" (issue 13): present when they apply.
  if (!v.exceptions.empty()) {
    auto& es = j["exceptions"] = nlohmann::ordered_json::array();
    for (const auto& e : v.exceptions)
      es.push_back({{"name", e.name},
                    {"recipient", e.recipient},
                    {"categories", e.categories},
                    {"action", e.action == Action::accept ? "deliver" : to_string(e.action)}});
  }
  if (v.monitoring() || v.monitor_all)
    j["monitor"] = {{"all", v.monitor_all},
                    {"would_action", to_string(v.would_action)},
                    {"categories", v.monitored}};
  // Beyond the contract's core fields: what the quarantine store and review page need.
  j["sender"] = v.sender;
  j["subject"] = v.subject;
  j["message_id"] = v.message_id;
  auto& as = j["attachments"] = nlohmann::ordered_json::array();
  for (const auto& a : v.attachments)
    as.push_back(
        {{"origin", a.origin}, {"name", a.name}, {"type", a.content_type}, {"size", a.size}});
  if (opt.segments) {
    auto& ss = j["segments"] = nlohmann::ordered_json::array();
    for (const auto& s : v.segments)
      ss.push_back({{"origin", s.origin}, {"kind", to_string(s.kind)}, {"text", s.text}});
  }
  j["snapshot"] = v.snapshot;
  j["school"] = v.school;  // "" with one school ([[schools]]: README.md)
  // Invalid UTF-8 from a hostile message must not abort the dump.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace pm
