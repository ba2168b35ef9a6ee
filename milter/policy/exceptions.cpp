#include "policy/exceptions.h"

#include <algorithm>
#include <stdexcept>

#include "policy/recipients.h"
#include "util/strings.h"

namespace pm {

int days_from_civil(int y, unsigned m, unsigned d) {
  // H. Hinnant's days_from_civil.
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int>(doe) - 719468;
}

int parse_date(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return -1;
  auto num = [&](std::size_t from, std::size_t n) {
    int v = 0;
    for (std::size_t i = from; i < from + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return -1;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  int y = num(0, 4), m = num(5, 2), d = num(8, 2);
  if (y < 1970 || m < 1 || m > 12 || d < 1) return -1;
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int max = mdays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
  if (d > max) return -1;
  return days_from_civil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
}

StaffRoles StaffRoles::parse(std::string_view csv) {
  StaffRoles out;
  std::size_t n = 0;
  std::size_t school_col = std::string_view::npos;  // from a header line naming "school"
  for (auto line : split(csv, '\n')) {
    ++n;
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string_view> fields = split(line, ',');
    std::size_t at = fields.size();
    for (std::size_t i = 0; i < fields.size(); ++i)
      if (fields[i].find('@') != std::string_view::npos) {
        at = i;
        break;
      }
    if (at == fields.size()) {  // a header line ("email,role,school") or a note
      for (std::size_t i = 0; i < fields.size(); ++i)
        if (to_lower_ascii(trim(fields[i])) == "school") school_col = i;
      continue;
    }
    std::string addr = to_lower_ascii(trim(fields[at]));
    std::vector<std::string>& roles = out.roles_[addr];
    std::string school;
    if (school_col != std::string_view::npos && school_col != at && school_col < fields.size())
      school = to_lower_ascii(trim(fields[school_col]));
    for (std::size_t i = at + 1; i < fields.size(); ++i) {
      if (i == school_col) continue;
      for (auto r : split(fields[i], ';')) {
        std::string role = to_lower_ascii(trim(r));
        if (!role.empty() && std::find(roles.begin(), roles.end(), role) == roles.end())
          roles.push_back(role);
      }
    }
    if (!school.empty()) {
      out.schools_[addr] = {school, static_cast<int>(n)};
    } else if (roles.empty()) {
      out.roles_.erase(addr);
      throw std::invalid_argument("line " + std::to_string(n) + ": an address with no role");
    }
    if (roles.empty()) out.roles_.erase(addr);
  }
  out.school_column_ = school_col != std::string_view::npos;
  return out;
}

std::string StaffRoles::school_of(std::string_view address) const {
  auto it = schools_.find(to_lower_ascii(address));
  return it == schools_.end() ? std::string() : it->second.first;
}

bool StaffRoles::has(std::string_view address, const std::vector<std::string>& roles) const {
  auto it = roles_.find(to_lower_ascii(address));
  if (it == roles_.end()) return false;
  for (const auto& r : roles)
    if (std::find(it->second.begin(), it->second.end(), r) != it->second.end()) return true;
  return false;
}

bool exception_expired(const PolicyException& e, int today) {
  return e.expires >= 0 && today > e.expires;
}

bool exception_covers_sender(const PolicyException& e, const ExceptionSet& set,
                             std::string_view sender_in) {
  const std::string sender = to_lower_ascii(sender_in);
  if (sender.empty()) return false;
  if (std::find(e.senders.begin(), e.senders.end(), sender) != e.senders.end()) return true;
  return !e.sender_roles.empty() && set.roles.has(sender, e.sender_roles);
}

namespace {

// An entry names the address itself, or a domain covering the address's domain.
bool entry_covers(const std::string& entry, const std::string& address, const std::string& domain) {
  if (entry.find('@') != std::string::npos) return entry == address;
  return !domain.empty() &&
         (domain == entry || (domain.size() > entry.size() && domain.ends_with("." + entry)));
}

}  // namespace

bool exception_covers_recipient(const PolicyException& e, const ExceptionSet& set,
                                std::string_view recipient_in) {
  const std::string address = to_lower_ascii(recipient_in);
  const std::string domain = domain_of(address);
  for (const auto& r : e.recipients)
    if (entry_covers(r, address, domain)) return true;
  for (const auto& name : e.recipient_lists) {
    auto it = set.lists.find(name);
    if (it == set.lists.end()) continue;
    for (const auto& r : it->second)
      if (entry_covers(r, address, domain)) return true;
  }
  return false;
}

std::map<std::string, Action> exception_caps(const ExceptionSet& set, int today,
                                             std::string_view sender, std::string_view recipient,
                                             std::map<std::string, std::string>* names) {
  std::map<std::string, Action> caps;
  for (const PolicyException& e : set.exceptions) {
    if (exception_expired(e, today) || !exception_covers_sender(e, set, sender) ||
        !exception_covers_recipient(e, set, recipient))
      continue;
    for (const auto& c : e.categories) {
      auto it = caps.find(c);
      if (it == caps.end() || e.action < it->second) {
        caps[c] = e.action;
        if (names) (*names)[c] = e.name;
      }
    }
  }
  return caps;
}

}  // namespace pm
