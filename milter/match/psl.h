// Host classification with the Public Suffix List (libpsl, the list Debian's publicsuffix
// package keeps current): is a name a suffix under which anyone can register ("co.uk",
// "org.uk", "sch.uk", "github.io"), and what is a host's registrable domain.
//
// The allow list of personal-link must never hold such a suffix: "org.uk" would allow
// every site anyone registers under it. Only suffixes whose registration is restricted to
// the bodies POLICY.md allows as a whole (gov.uk, nhs.uk, police.uk, ac.uk) may stay, and
// the rules file must mark them (`[urls] restricted_suffixes`).
//
// Thread safety: the list is loaded once (first use) and read-only afterwards.
#pragma once

#include <string>
#include <string_view>

namespace pm {

// True when `host` (lower case, no port) is itself a public suffix - ICANN or private
// section; an unknown top-level label alone ("example") is not.
bool is_public_suffix(std::string_view host);

// The registrable domain of `host` ("news.bbc.co.uk" -> "bbc.co.uk"); "" when `host` is a
// public suffix or has none.
std::string registrable_domain(std::string_view host);

}  // namespace pm
