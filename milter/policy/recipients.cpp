// Recipient classes (POLICY.md, "Recipient classes"). See recipients.h for the contract.
//
// Lookalike design. The question is "is this a typing slip for a staff domain?", asked on
// the alnum-only form of the domain (dots, dashes and other ASCII punctuation dropped:
// "st-annes.example" -> "stannesexample"), so separator slips cost nothing. A candidate
// that is not a staff domain (nor under one) is a lookalike of a staff domain when:
//   1. its alnum form is within the Damerau-Levenshtein bound of the staff alnum form
//      (distance 0 included: "st-annes.example" differs only in separators); or
//   2. its alnum form starts with the staff alnum form ("stannes.example.com",
//      "stannes-example.com": the staff domain with something glued on); or
//   3. it has the staff domain's labels with another last label ("stannes.exampel",
//      "stannes.com": right name, wrong top-level domain).
// Bounds, because a lookalike wrongly flagged tags harmless mail while a missed one is
// still "external" (outside the school, so the category rules still hold):
//   - staff alnum forms shorter than 6 characters get no fuzzy rule (1, 2) at all: with
//     short names almost everything is a couple of edits away from something;
//   - forms of 6..9 characters allow at most 1 edit; longer ones lookalike_max_distance;
//   - a candidate shorter than the staff form by 2 or more (two dropped characters) is
//     allowed 1 edit only: "annes.example" is a different name, not a slip for
//     "stannes.example".
// "stannes.org.example" is NOT a lookalike: its alnum form is 3 edits away, it does not
// start with the staff form, and its labels differ (stannes.org vs stannes): it reads as
// another organisation's domain (a parish, say), and it is still classed external.
#include "policy/recipients.h"

#include <algorithm>
#include <cstddef>

#include "util/strings.h"

namespace pm {
namespace {

constexpr std::size_t kMinFuzzyLength = 6;     // see "Bounds" above
constexpr std::size_t kShortFormLength = 10;   // below this, at most one edit
constexpr std::size_t kMaxDomainLength = 255;  // RFC 1035 limit (253 + slack); longer: no DL

bool is_ascii_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
}

// Drops ASCII punctuation; keeps letters, digits and non-ASCII bytes (so an IDN in UTF-8
// still costs edits instead of vanishing).
std::string alnum_form(std::string_view domain) {
  std::string out;
  out.reserve(domain.size());
  for (char c : domain) {
    if (is_ascii_alnum(c) || static_cast<unsigned char>(c) >= 0x80) out.push_back(c);
  }
  return out;
}

// Lower case, without surrounding whitespace, angle brackets and a trailing root dot.
std::string normalise_domain(std::string_view d) {
  std::string out = to_lower_ascii(trim(d));
  while (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

std::string normalise_address(std::string_view address) {
  std::string_view a = trim(address);
  if (a.size() >= 2 && a.front() == '<' && a.back() == '>') a = trim(a.substr(1, a.size() - 2));
  return to_lower_ascii(a);
}

// `domain` equals `base` or lies under it ("mail.nhs.example" under "nhs.example").
bool within(std::string_view domain, std::string_view base) {
  if (base.empty()) return false;
  if (domain == base) return true;
  return domain.size() > base.size() && domain.ends_with(base) &&
         domain[domain.size() - base.size() - 1] == '.';
}

// A webmail pattern: "gmail.com" matches that domain and its subdomains; "hotmail.*"
// matches "hotmail." followed by any non-empty suffix ("hotmail.co.uk", "hotmail.fr").
bool webmail_match(std::string_view domain, std::string_view pattern) {
  if (pattern.ends_with(".*")) {
    auto stem = pattern.substr(0, pattern.size() - 1);  // "hotmail."
    return domain.size() > stem.size() && domain.starts_with(stem);
  }
  return within(domain, pattern);
}

// Optimal string alignment distance (Damerau-Levenshtein with adjacent transpositions).
// Returns `cap + 1` as soon as every cell of a row exceeds `cap`.
unsigned dl_distance(std::string_view a, std::string_view b, unsigned cap) {
  const std::size_t n = a.size(), m = b.size();
  if ((n > m ? n - m : m - n) > cap) return cap + 1;
  std::vector<unsigned> prev2(m + 1), prev(m + 1), cur(m + 1);
  for (std::size_t j = 0; j <= m; ++j) prev[j] = unsigned(j);
  for (std::size_t i = 1; i <= n; ++i) {
    cur[0] = unsigned(i);
    unsigned row_min = cur[0];
    for (std::size_t j = 1; j <= m; ++j) {
      const unsigned cost = a[i - 1] == b[j - 1] ? 0 : 1;
      unsigned v = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        v = std::min(v, prev2[j - 2] + 1);
      cur[j] = v;
      row_min = std::min(row_min, v);
    }
    if (row_min > cap) return cap + 1;
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[m];
}

// Everything but the last label ("stannes.example" -> "stannes"); "" for a single label.
std::string_view without_last_label(std::string_view d) {
  auto dot = d.rfind('.');
  return dot == std::string_view::npos ? std::string_view{} : d.substr(0, dot);
}

bool close_to(const std::string& domain, const std::string& staff_domain, unsigned max_distance) {
  const std::string cand = alnum_form(domain);
  const std::string staff = alnum_form(staff_domain);

  // 3. Same labels, another top-level label.
  const auto cand_name = without_last_label(domain), staff_name = without_last_label(staff_domain);
  if (!staff_name.empty() && !cand_name.empty() &&
      alnum_form(cand_name) == alnum_form(staff_name) && alnum_form(staff_name).size() >= 3 &&
      std::count(cand_name.begin(), cand_name.end(), '.') ==
          std::count(staff_name.begin(), staff_name.end(), '.'))
    return true;

  if (staff.size() < kMinFuzzyLength || cand.empty()) return false;

  // 2. The staff form with something glued on.
  if (cand.size() > staff.size() && cand.starts_with(staff)) return true;

  // 1. A few edits away.
  unsigned bound = staff.size() < kShortFormLength ? std::min(max_distance, 1u) : max_distance;
  if (cand.size() + 2 <= staff.size()) bound = std::min(bound, 1u);
  if (cand.size() > kMaxDomainLength || staff.size() > kMaxDomainLength) return false;
  return dl_distance(cand, staff, bound) <= bound;
}

}  // namespace

std::string domain_of(std::string_view address) {
  const std::string a = normalise_address(address);
  auto at = a.rfind('@');  // the local part may be quoted and hold an '@' of its own
  if (at == std::string::npos) return {};
  return normalise_domain(std::string_view(a).substr(at + 1));
}

std::string lookalike_of(std::string_view domain_in, const std::vector<std::string>& staff,
                         unsigned max_distance) {
  const std::string domain = normalise_domain(domain_in);
  if (domain.empty()) return {};
  std::vector<std::string> bases;
  bases.reserve(staff.size());
  for (const auto& s : staff) {
    bases.push_back(normalise_domain(s));
    if (within(domain, bases.back())) return {};  // a staff domain or under one
  }
  for (const auto& base : bases)
    if (!base.empty() && close_to(domain, base, max_distance)) return base;
  return {};
}

bool is_lookalike_domain(std::string_view domain_in, const std::vector<std::string>& staff,
                         unsigned max_distance) {
  return !lookalike_of(domain_in, staff, max_distance).empty();
}

std::vector<std::string> lookalike_bases(const RecipientDomains& domains) {
  if (domains.other_staff.empty()) return domains.staff;
  std::vector<std::string> all = domains.staff;
  all.insert(all.end(), domains.other_staff.begin(), domains.other_staff.end());
  return all;
}

RecipientClass classify_recipient(std::string_view address, const RecipientDomains& domains) {
  const std::string addr = normalise_address(address);
  for (const auto& list : domains.outside_lists)
    if (addr == normalise_address(list)) return RecipientClass::external;

  const std::string domain = domain_of(addr);
  if (domain.empty()) return RecipientClass::external;  // no domain: nothing vouches for it

  // The most specific configured domain wins. On a tie (one domain configured in two lists,
  // a configuration mistake) the class further outside the school wins, so the mistake
  // cannot let data out unchecked: pupil > partner > internal.
  std::size_t best_len = 0;
  RecipientClass best = RecipientClass::external;
  auto consider = [&](const std::vector<std::string>& list, RecipientClass cls) {
    for (const auto& entry : list) {
      const std::string base = normalise_domain(entry);
      if (within(domain, base) && base.size() >= best_len) {  // lists come in tie order
        best = cls;
        best_len = base.size();
      }
    }
  };
  // Another school's staff domain first, so that the message's own school wins a tie.
  consider(domains.other_staff, domains.other_staff_class);
  consider(domains.staff, RecipientClass::internal);
  consider(domains.partner, RecipientClass::partner);
  consider(domains.pupil, RecipientClass::pupil);
  if (best_len > 0) return best;

  for (const auto& pattern : domains.webmail)
    if (webmail_match(domain, normalise_domain(pattern))) return RecipientClass::personal_webmail;

  if (is_lookalike_domain(domain, lookalike_bases(domains), domains.lookalike_max_distance))
    return RecipientClass::lookalike;
  return RecipientClass::external;
}

}  // namespace pm
