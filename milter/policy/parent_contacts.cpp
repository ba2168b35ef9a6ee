#include "policy/parent_contacts.h"

#include <algorithm>
#include <stdexcept>

#include "util/strings.h"

namespace pm {

namespace {

std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '\'' || c == '-') {
      cur.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else if (!cur.empty()) {
      out.push_back(cur);
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

bool titled(const std::vector<std::string>& w) {
  static const char* const titles[] = {"mr", "mrs", "ms", "miss", "mx", "dr", "sir", "madam"};
  if (w.empty()) return false;
  for (const char* t : titles)
    if (w.front() == t) return true;
  return false;
}

// "Ellie", "Ellie Brandt", "ellie brandt's" name the pupil "ellie brandt": every word of the
// mention (a possessive 's dropped) is a word of the pupil's name.
bool names_pupil(std::vector<std::string> mention, const std::string& pupil) {
  std::vector<std::string> p = words(pupil);
  for (auto& m : mention) {
    if (m.ends_with("'s")) m.resize(m.size() - 2);
    if (std::find(p.begin(), p.end(), m) == p.end()) return false;
  }
  return !mention.empty();
}

}  // namespace

ParentContacts ParentContacts::parse(std::string_view text) {
  ParentContacts pc;
  std::set<std::string> pupils;
  int n = 0;
  for (auto line : split(text, '\n')) {
    ++n;
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    std::string l(line);
    std::replace(l.begin(), l.end(), '\t', ',');
    std::replace(l.begin(), l.end(), ';', ',');
    auto cols = split(l, ',');
    if (cols.empty()) continue;
    std::string pupil = to_lower_ascii(trim(cols[0]));
    bool any = false;
    for (std::size_t i = 1; i < cols.size(); ++i) {
      std::string a = to_lower_ascii(trim(cols[i]));
      if (a.find('@') == std::string::npos) continue;
      pc.by_address_[a].insert(pupil);
      any = true;
    }
    if (!any) {
      if (l.find('@') == std::string::npos && pupils.empty() && pc.by_address_.empty())
        continue;  // a header
      throw std::invalid_argument("line " + std::to_string(n) +
                                  ": a pupil with no contact address");
    }
    pupils.insert(pupil);
  }
  pc.pupil_count_ = pupils.size();
  return pc;
}

bool ParentContacts::listed(std::string_view address) const {
  return by_address_.find(to_lower_ascii(address)) != by_address_.end();
}

ParentContacts::Check ParentContacts::check(const std::vector<std::vector<std::string>>& named,
                                            std::string_view address) const {
  Check c;
  const std::string addr = to_lower_ascii(address);
  auto it = by_address_.find(addr);
  static const std::set<std::string> none;
  const std::set<std::string>& mine = it == by_address_.end() ? none : it->second;
  bool all = !named.empty();
  for (const auto& finding : named) {
    bool some = false;
    for (const auto& person : finding) {
      std::vector<std::string> w = words(person);
      if (w.empty() || titled(w)) continue;
      bool ok = std::any_of(mine.begin(), mine.end(),
                            [&](const std::string& p) { return names_pupil(w, p); });
      if (ok) {
        some = true;
        continue;
      }
      all = false;
      if (c.mismatch.empty())
        c.mismatch =
            "pupil " + person + " is not listed for " + addr + " in the parent-contacts export";
    }
    if (!some) {
      all = false;
      if (c.mismatch.empty())
        c.mismatch = mine.empty() ? addr + " is not in the parent-contacts export"
                                  : "a confidential finding names no pupil listed for " + addr;
    }
  }
  c.cleared = all && !mine.empty();
  if (c.cleared) c.mismatch.clear();
  return c;
}

}  // namespace pm
