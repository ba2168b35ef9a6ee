// Exceptions: "this sender (or these staff roles) to these recipients, for these
// categories: deliver (or tag)" - the school's standing permission for lawful sharing, e.g.
// the designated safeguarding lead's referrals to the council's safeguarding inbox.
//
// An exception applies to one recipient of one message when all of these hold:
//   - it has not expired (valid up to and including `expires`; no date: no expiry);
//   - the envelope sender is one of `senders`, or has one of `sender_roles` in the staff
//     roles export (StaffRoles: address -> roles, from the MIS);
//   - the recipient is one of `recipients` (a full address, or a domain that covers it and
//     its subdomains) or is on one of the named recipient lists;
//   - the category holds for that recipient and is one of `categories`.
// Its `action` (accept = "deliver", or tag) then caps that category's action for that
// recipient; every other category, and every other recipient, is judged as usual.
//
// Pure: no I/O, no clock (the caller passes today's date). Thread-safe once built.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "policy/action.h"

namespace pm {

// Days since 1970-01-01 of a proleptic Gregorian date; parse_date("2027-07-31").
int days_from_civil(int y, unsigned m, unsigned d);
// "YYYY-MM-DD" -> days since the epoch; -1 when it is not a valid date.
int parse_date(std::string_view s);

// The staff roles export: "address,role[;role...]" per line (or any CSV whose first field
// holding an '@' is the address and whose following fields are roles). Roles lower case.
// Several schools sharing one staff domain (policy/schools.h): a header line with a field
// "school" makes that column the sender's school id ("email,roles,school"), not a role; a
// row with a school may then have no role.
class StaffRoles {
 public:
  // Throws std::invalid_argument("line N: ...") for a line with an address but no role
  // (and no school).
  static StaffRoles parse(std::string_view csv);
  bool has(std::string_view address, const std::vector<std::string>& roles) const;
  bool empty() const { return roles_.empty(); }
  std::size_t size() const { return roles_.size(); }
  // The school column: whether the header named one, and an address's school ("": none).
  bool has_school_column() const { return school_column_; }
  std::string school_of(std::string_view address) const;
  // lower-case address -> (school id, line), for checking the ids against the configuration.
  const std::map<std::string, std::pair<std::string, int>>& schools() const { return schools_; }

 private:
  std::map<std::string, std::vector<std::string>> roles_;  // lower-case address -> roles
  std::map<std::string, std::pair<std::string, int>> schools_;
  bool school_column_ = false;
};

struct PolicyException {
  std::string name;
  std::vector<std::string> senders;          // lower-case addresses
  std::vector<std::string> sender_roles;     // lower case, e.g. "dsl"
  std::vector<std::string> recipients;       // lower-case addresses or domains
  std::vector<std::string> recipient_lists;  // names of ExceptionSet::lists
  std::vector<std::string> categories;
  Action action = Action::accept;  // accept ("deliver") or tag
  int expires = -1;                // last valid day (days since epoch); -1: none
  int line = 0;                    // where it is configured, for messages
};

struct ExceptionSet {
  std::vector<PolicyException> exceptions;
  std::map<std::string, std::vector<std::string>> lists;  // name -> addresses/domains
  StaffRoles roles;
  bool empty() const { return exceptions.empty(); }
};

// One exception applied to one recipient: the categories whose action it capped.
struct AppliedException {
  std::string name;
  std::string recipient;
  std::vector<std::string> categories;
  Action action = Action::accept;
};

bool exception_expired(const PolicyException& e, int today);
bool exception_covers_sender(const PolicyException& e, const ExceptionSet& set,
                             std::string_view sender);
bool exception_covers_recipient(const PolicyException& e, const ExceptionSet& set,
                                std::string_view recipient);

// The caps for one recipient: category -> the lowest action any live, matching exception
// allows. Categories of no exception are absent. `names` gets, per capped category, the
// first exception that capped it (for the log and --explain).
std::map<std::string, Action> exception_caps(const ExceptionSet& set, int today,
                                             std::string_view sender, std::string_view recipient,
                                             std::map<std::string, std::string>* names = nullptr);

}  // namespace pm
