// URLs in normalised text: expand Hyperscan's URL hints to whole URL tokens and classify
// each host/path against the URL classes of the rules (official, allow, social profile or
// content, blog platform, shortener, other). Redirect wrappers (Outlook safelinks, Google
// /url?q=) are unwrapped so the real target is classified. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "match/rules.h"

namespace pm {

enum class UrlClass { official, allow, social_profile, social_content, blog, shortener, other };
const char* to_string(UrlClass c);  // "url:official", ...

struct UrlSpan {
  std::size_t start = 0, end = 0;  // in the normalised text
  std::string host;                // without "www."
  std::string path;                // after the host, without query/fragment, no leading '/'
  UrlClass cls = UrlClass::other;
};

// `hints` are start offsets of URL-hint hits; returns unique URL tokens, in text order.
std::vector<UrlSpan> expand_urls(std::string_view text, std::vector<std::size_t> hints,
                                 const UrlClasses& classes);

UrlClass classify_url(std::string_view host, std::string_view path, const UrlClasses& classes);

// Builds classes.index from its lists (call once after loading them).
void index_url_classes(UrlClasses& classes);

}  // namespace pm
