#include "policy/schools.h"

#include <algorithm>

#include "util/strings.h"

namespace pm {
namespace {

std::string norm(std::string_view d) {
  std::string out = to_lower_ascii(trim(d));
  while (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

// The envelope sender as the staff file lists it: lower case, no angle brackets.
std::string bare_addr(std::string_view a) {
  a = trim(a);
  if (a.size() >= 2 && a.front() == '<' && a.back() == '>') a = trim(a.substr(1, a.size() - 2));
  return to_lower_ascii(a);
}

// The longest of `staff` that covers `domain` (equal, or a parent domain); "" for none.
std::string covering(const std::string& domain, const std::vector<std::string>& staff) {
  std::string best;
  for (const auto& s : staff) {
    const std::string base = norm(s);
    if (base.empty()) continue;
    const bool under = domain == base || (domain.size() > base.size() && domain.ends_with(base) &&
                                          domain[domain.size() - base.size() - 1] == '.');
    if (under && base.size() > best.size()) best = base;
  }
  return best;
}

void add_unique(std::vector<std::string>& to, const std::vector<std::string>& from,
                const std::vector<std::string>& except = {}) {
  for (const auto& d : from) {
    const std::string n = norm(d);
    if (n.empty() || std::find(to.begin(), to.end(), n) != to.end()) continue;
    if (std::find_if(except.begin(), except.end(),
                     [&](const std::string& e) { return norm(e) == n; }) != except.end())
      continue;
    to.push_back(n);
  }
}

}  // namespace

SchoolChoice resolve_school(std::string_view sender, const std::vector<SchoolDomains>& schools,
                            const StaffRoles& staff) {
  SchoolChoice c;
  c.domain = domain_of(sender);
  if (schools.size() <= 1) return c;
  // The most specific staff domain decides: "stmarys.trust.example" beats "trust.example".
  std::vector<std::size_t> candidates;
  std::string best;
  for (std::size_t i = 0; i < schools.size(); ++i) {
    const std::string d = c.domain.empty() ? "" : covering(c.domain, schools[i].domains.staff);
    if (d.empty() || d.size() < best.size()) continue;
    if (d.size() > best.size()) candidates.clear();
    best = d;
    candidates.push_back(i);
  }
  if (candidates.empty()) {
    c.reason = SchoolReason::no_school;
    return c;
  }
  c.domain = best;
  c.index = candidates.front();
  if (candidates.size() == 1) {
    c.reason = SchoolReason::sender_domain;
    return c;
  }
  const std::string listed = staff.school_of(bare_addr(sender));
  for (std::size_t i : candidates)
    if (!listed.empty() && schools[i].id == listed) {
      c.index = i;
      c.reason = SchoolReason::staff_file;
      return c;
    }
  c.reason = SchoolReason::shared_unlisted;
  return c;
}

std::string describe_school(const SchoolChoice& c, const std::vector<SchoolDomains>& schools) {
  const std::string id = c.index < schools.size() ? schools[c.index].id : std::string();
  switch (c.reason) {
    case SchoolReason::single:
      return "(the one school)";
    case SchoolReason::sender_domain:
      return id + " (sender domain " + c.domain + ")";
    case SchoolReason::staff_file:
      return id + " (staff file: " + c.domain + " is shared by several schools)";
    case SchoolReason::shared_unlisted:
      return id + " (" + c.domain +
             " is shared by several schools and the staff file does not place the sender: "
             "the first of them)";
    case SchoolReason::no_school:
      return id + " (sender domain " + (c.domain.empty() ? std::string("(none)") : c.domain) +
             " is no school's: the first school)";
  }
  return id;
}

RecipientDomains judged_domains(const std::vector<SchoolDomains>& schools, std::size_t i,
                                RecipientClass colleague) {
  RecipientDomains d = schools.at(i).domains;
  if (schools.size() <= 1) return d;
  d.other_staff_class = colleague;
  for (std::size_t j = 0; j < schools.size(); ++j) {
    if (j == i) continue;
    const RecipientDomains& o = schools[j].domains;
    // A domain this school shares with another is this school's own staff domain.
    add_unique(d.other_staff, o.staff, d.staff);
    add_unique(d.pupil, o.pupil);
    add_unique(d.outside_lists, o.outside_lists);
  }
  return d;
}

std::vector<std::string> shared_staff_domains(const std::vector<SchoolDomains>& schools) {
  std::vector<std::string> seen, shared;
  for (const auto& s : schools) {
    std::vector<std::string> mine;
    add_unique(mine, s.domains.staff);
    for (const auto& d : mine) {
      if (std::find(seen.begin(), seen.end(), d) != seen.end()) {
        if (std::find(shared.begin(), shared.end(), d) == shared.end()) shared.push_back(d);
      } else {
        seen.push_back(d);
      }
    }
  }
  return shared;
}

}  // namespace pm
