// Recipient classes from the configuration (POLICY.md, "Recipient classes").
//
// classify_recipient() maps an addr-spec to internal / pupil / partner / personal-webmail /
// lookalike / external. Domains match exactly or as a parent domain (a partner
// "nhs.example" covers "mail.nhs.example"); the more specific configured domain wins, so
// the pupil domain "pupils.stannes.example" beats the staff domain "stannes.example".
// A lookalike is a domain a small edit away from a staff domain ("stannes.exampel",
// "stanes.example", "st-annes.example", "stannes-example.com"). Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "policy/recipient_class.h"

namespace pm {

struct RecipientDomains {
  std::vector<std::string> staff;    // internal, e.g. "stannes.example"
  std::vector<std::string> pupil;    // e.g. "pupils.stannes.example"
  std::vector<std::string> partner;  // e.g. "somerset-la.example", "nhs.example"
  // Personal webmail; a trailing ".*" matches any public suffix ("hotmail.*").
  std::vector<std::string> webmail;
  // Staff-domain addresses (full addresses, lower case) that are lists with outside
  // members, e.g. "year5-parents@stannes.example": they count as external.
  std::vector<std::string> outside_lists;
  unsigned lookalike_max_distance = 2;  // Damerau-Levenshtein, on the dot/dash-free form
  // Several schools in one configuration (policy/schools.h): the staff domains of the
  // trust's other schools, classed `other_staff_class` (internal or external, the trust's
  // choice). Never lookalikes; a typo of one is a lookalike like a typo of `staff`. Empty
  // for a single school.
  std::vector<std::string> other_staff;
  RecipientClass other_staff_class = RecipientClass::internal;
};

RecipientClass classify_recipient(std::string_view address, const RecipientDomains& domains);

// True when `domain` is not a staff domain but close to one (see above).
bool is_lookalike_domain(std::string_view domain, const std::vector<std::string>& staff,
                         unsigned max_distance);

// The staff domain `domain` looks like a typo of ("" when it is not a lookalike).
std::string lookalike_of(std::string_view domain, const std::vector<std::string>& staff,
                         unsigned max_distance);

// The domains a lookalike is a typo of: `staff`, and the other schools' `other_staff`.
std::vector<std::string> lookalike_bases(const RecipientDomains& domains);

// The domain part of an addr-spec, lower case ("" when there is no '@').
std::string domain_of(std::string_view address);

}  // namespace pm
