// Several schools in one configuration (a trust): which school a message belongs to, and
// the recipient domains it is judged against (README.md, "Several schools in one
// configuration").
//
// resolve_school() decides from the envelope sender alone:
//   1. the schools whose staff domains cover the sender's domain (exactly or as a parent
//      domain): one school -> that school ("sender domain");
//   2. several (a trust using one staff domain for all its schools): the sender's row in the
//      staff file's school column, when it names one of them ("staff file"); a sender the
//      file does not place -> the first of them ("shared domain, not in the staff file");
//   3. none: the first school listed ("no school's domain").
// With one school (no [[schools]]) the answer is always that school, reason `single`.
//
// judged_domains() gives, for one school, its own domains plus the trust's: the other
// schools' pupil domains are pupils (still children), their staff domains colleagues of the
// class the trust chose (internal or external), their outside lists external.
// Pure; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "policy/exceptions.h"
#include "policy/recipients.h"

namespace pm {

struct SchoolDomains {
  std::string id;            // "" for the single school
  RecipientDomains domains;  // the school's own staff / pupil / partner / outside_lists
};

enum class SchoolReason { single, sender_domain, staff_file, shared_unlisted, no_school };

struct SchoolChoice {
  std::size_t index = 0;  // into the schools
  SchoolReason reason = SchoolReason::single;
  std::string domain;  // the sender's domain (the staff domain that decided, for 1 and 2)
};

SchoolChoice resolve_school(std::string_view sender, const std::vector<SchoolDomains>& schools,
                            const StaffRoles& staff);

// "st-annes (sender domain stannes.example)": for --explain. Names a domain, never an address.
std::string describe_school(const SchoolChoice& c, const std::vector<SchoolDomains>& schools);

// The domains a message of schools[i] is judged against (see above). With one school:
// that school's domains unchanged.
RecipientDomains judged_domains(const std::vector<SchoolDomains>& schools, std::size_t i,
                                RecipientClass colleague);

// Staff domains two schools both list (lower case, each once, in first-seen order).
std::vector<std::string> shared_staff_domains(const std::vector<SchoolDomains>& schools);

}  // namespace pm
