#include "match/urls.h"

#include <gtest/gtest.h>

namespace pm {
namespace {

UrlClasses classes() {
  UrlClasses c;
  c.official = {"www.stannes.example", "stannes.example", "facebook.com/stannesprimary"};
  c.allow = {"gov.uk", "bbc.co.uk", "classdojo.com"};
  c.social = {"facebook.com", "instagram.com", "youtube.com", "x.com"};
  c.social_content = {"watch", "groups", "p", "status"};
  c.blog = {"wordpress.com", "blogspot.com", "linktr.ee"};
  c.shortener = {"bit.ly", "tinyurl.com"};
  return c;
}

UrlClass cls(std::string_view text) {
  auto v = expand_urls(text, {text.find_first_not_of(' ')}, classes());
  return v.empty() ? UrlClass::official : v.front().cls;  // official never comes from here
}

TEST(Urls, ClassifiesHostsAndPaths) {
  auto c = classes();
  EXPECT_EQ(classify_url("stannes.example", "classes/year-3/blog", c), UrlClass::official);
  EXPECT_EQ(classify_url("facebook.com", "stannesprimary", c), UrlClass::official);
  EXPECT_EQ(classify_url("facebook.com", "emma.ellis.5821", c), UrlClass::social_profile);
  EXPECT_EQ(classify_url("facebook.com", "groups/ashcombe", c), UrlClass::social_content);
  EXPECT_EQ(classify_url("youtube.com", "watch", c), UrlClass::social_content);
  EXPECT_EQ(classify_url("facebook.com", "", c), UrlClass::social_content);
  EXPECT_EQ(classify_url("missholt.wordpress.com", "", c), UrlClass::blog);
  EXPECT_EQ(classify_url("assets.publishing.service.gov.uk", "x.pdf", c), UrlClass::allow);
  EXPECT_EQ(classify_url("bit.ly", "3xyz", c), UrlClass::shortener);
  EXPECT_EQ(classify_url("lucyhartphotos.example", "", c), UrlClass::other);
  // A host that merely ends in an allowed name is not allowed.
  EXPECT_EQ(classify_url("notgov.uk.evil.example", "", c), UrlClass::other);
}

TEST(Urls, ExpandsHintsToWholeUrls) {
  std::string t = "see https://www.instagram.com/jess.bakes/ (my page).";
  auto v = expand_urls(t, {t.find("https")}, classes());
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(t.substr(v[0].start, v[0].end - v[0].start), "https://www.instagram.com/jess.bakes/");
  EXPECT_EQ(v[0].host, "instagram.com");
  EXPECT_EQ(v[0].path, "jess.bakes/");
  EXPECT_EQ(v[0].cls, UrlClass::social_profile);
}

TEST(Urls, EmailAddressesAreNotLinks) {
  std::string t = "write to jane.smith@gmail.com today";
  EXPECT_TRUE(expand_urls(t, {t.find("l.com") - 1}, classes()).empty());
}

TEST(Urls, UnwrapsRedirectors) {
  std::string t = "https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fmissholt.wordpress.com%2F&data=1";
  auto v = expand_urls(t, {0}, classes());
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].host, "missholt.wordpress.com");
  EXPECT_EQ(v[0].cls, UrlClass::blog);
}

}  // namespace
}  // namespace pm
