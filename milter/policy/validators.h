// Identifier check digits (POLICY.md, "Identifiers"). A number only counts as a UPN, NHS
// number, ULN or NI number when it passes its check; look-alikes (ISBNs, invoice numbers,
// HMRC's published example QQ123456C) never do.
//
// Every validator takes the matched bytes as found in the normalised text: it ignores
// ASCII spaces, dashes, dots and is case-insensitive, so "943 476 5919", "943-476-5919"
// and "9434765919" are the same number. Pure functions; thread-safe.
#pragma once

#include <string_view>

namespace pm {

bool valid_upn(std::string_view s);   // DfE Unique Pupil Number, incl. temporary UPNs
bool valid_nhs(std::string_view s);   // NHS number (mod 11)
bool valid_uln(std::string_view s);   // Unique Learner Number
bool valid_nino(std::string_view s);  // National Insurance number (HMRC NIM39110)
bool valid_sort_account(std::string_view s);  // "12-34-56 12345678": shape of sort code + account

using Validator = bool (*)(std::string_view);
// "upn", "nhs", "uln", "nino", "sort-account"; nullptr for an unknown name.
Validator find_validator(std::string_view name);

}  // namespace pm
