// Recipient classification (POLICY.md, "Recipient classes"), with St Anne's configuration.
#include <gtest/gtest.h>

#include <string>

#include "policy/recipients.h"

namespace pm {
namespace {

RecipientDomains st_annes() {
  RecipientDomains d;
  d.staff = {"stannes.example"};
  d.pupil = {"pupils.stannes.example"};
  d.partner = {"somerset-la.example", "nhs.example"};
  d.webmail = {"gmail.com",  "googlemail.com", "outlook.com", "hotmail.*",      "live.*",
               "icloud.com", "me.com",         "yahoo.*",     "btinternet.com", "aol.com"};
  d.outside_lists = {"year5-parents@stannes.example"};
  d.lookalike_max_distance = 2;
  return d;
}

struct Row {
  const char* address;
  RecipientClass expected;
};

void PrintTo(const Row& r, std::ostream* os) { *os << r.address; }

class PolicyClassify : public ::testing::TestWithParam<Row> {};

TEST_P(PolicyClassify, Table) {
  const Row& r = GetParam();
  EXPECT_EQ(to_string(classify_recipient(r.address, st_annes())), std::string(to_string(r.expected)))
      << r.address;
}

using RC = RecipientClass;
INSTANTIATE_TEST_SUITE_P(
    StAnnes, PolicyClassify,
    ::testing::Values(
        // internal: the staff domain and anything under it; case and <> do not matter
        Row{"head@stannes.example", RC::internal}, Row{"Head@StAnnes.Example", RC::internal},
        Row{"<office@stannes.example>", RC::internal}, Row{"  office@stannes.example ", RC::internal},
        Row{"it@mail.stannes.example", RC::internal}, Row{"head@stannes.example.", RC::internal},
        Row{"\"odd@local\"@stannes.example", RC::internal},
        // a list with outside members counts as external, whatever its case
        Row{"year5-parents@stannes.example", RC::external},
        Row{"<Year5-Parents@StAnnes.example>", RC::external},
        Row{"year6-parents@stannes.example", RC::internal},
        // pupil beats staff: the more specific domain wins
        Row{"ava.k@pupils.stannes.example", RC::pupil}, Row{"x@y.pupils.stannes.example", RC::pupil},
        // partners
        Row{"safeguarding@somerset-la.example", RC::partner},
        Row{"school.nurse@nhs.example", RC::partner}, Row{"gp@mail.nhs.example", RC::partner},
        // personal webmail, including "name.*" patterns
        Row{"someone@gmail.com", RC::personal_webmail}, Row{"someone@GoogleMail.com", RC::personal_webmail},
        Row{"someone@hotmail.co.uk", RC::personal_webmail}, Row{"someone@hotmail.fr", RC::personal_webmail},
        Row{"someone@hotmail.com", RC::personal_webmail}, Row{"someone@live.co.uk", RC::personal_webmail},
        Row{"someone@yahoo.com", RC::personal_webmail}, Row{"someone@btinternet.com", RC::personal_webmail},
        Row{"someone@icloud.com", RC::personal_webmail},
        Row{"someone@hotmail", RC::external},            // "hotmail.*" needs a suffix
        Row{"someone@nothotmail.com", RC::external},     // and the whole first label
        Row{"someone@gmail.com.example", RC::external},  // not gmail.com
        // lookalikes: probable misaddress
        Row{"head@stannes.exampel", RC::lookalike}, Row{"head@stanes.example", RC::lookalike},
        Row{"head@st-annes.example", RC::lookalike}, Row{"head@stannes-example.com", RC::lookalike},
        Row{"head@stannes.example.com", RC::lookalike}, Row{"head@stannnes.example", RC::lookalike},
        Row{"head@STANNES.EXAMPEL", RC::lookalike},
        // external: everything else, and nothing without a domain
        Row{"editor@news.example", RC::external}, Row{"office@stmarys.example", RC::external},
        Row{"vicar@stannes.org.example", RC::external}, Row{"x@annes.example", RC::external},
        Row{"no-at-sign", RC::external}, Row{"", RC::external}, Row{"user@", RC::external}));

// --- lookalike rule on its own ------------------------------------------------------------

const std::vector<std::string> kStaff = {"stannes.example"};

TEST(PolicyLookalike, TypingSlipsAreLookalikes) {
  for (const char* d : {"stannes.exampel", "stanes.example", "st-annes.example", "stannes-example.com",
                        "stannes.example.com", "stannnes.example", "stannes.com", "st.annes.example",
                        "stannse.example", "sttannes.example", "stannesexample.co.uk"})
    EXPECT_TRUE(is_lookalike_domain(d, kStaff, 2)) << d;
}

TEST(PolicyLookalike, OtherDomainsAreNot) {
  for (const char* d :
       {"stannes.example", "mail.stannes.example", "pupils.stannes.example", "StAnnes.Example",
        "gmail.com", "somerset-la.example", "nhs.example", "stmarys.example", "stannes.org.example",
        "annes.example", "stann.example", "example", "", "stannes"})
    EXPECT_FALSE(is_lookalike_domain(d, kStaff, 2)) << d;
}

TEST(PolicyLookalike, MaxDistanceBounds) {
  // Two substitutions: a lookalike at distance 2, not at 1; never at 0 except for separators.
  EXPECT_TRUE(is_lookalike_domain("stbnnes.exampla", kStaff, 2));
  EXPECT_FALSE(is_lookalike_domain("stbnnes.exampla", kStaff, 1));
  // With no edits allowed, separator slips and a wrong top-level label still count.
  EXPECT_TRUE(is_lookalike_domain("stannes.exampel", kStaff, 0));
  EXPECT_FALSE(is_lookalike_domain("stanes.example", kStaff, 0));
  EXPECT_TRUE(is_lookalike_domain("st-annes.example", kStaff, 0));
  // Three edits are too many.
  EXPECT_FALSE(is_lookalike_domain("stbnnes.exbmpla", kStaff, 2));
}

TEST(PolicyLookalike, ShortStaffNamesGetNoFuzzyMatch) {
  const std::vector<std::string> short_staff = {"ab.example"};  // alnum form "abexample" (9)
  EXPECT_TRUE(is_lookalike_domain("ac.example", short_staff, 2));    // 1 edit allowed
  EXPECT_FALSE(is_lookalike_domain("cd.example", short_staff, 2));   // 2 edits: too many
  const std::vector<std::string> tiny = {"ab.ex"};                   // "abex" (4): no fuzzy rule
  EXPECT_FALSE(is_lookalike_domain("ac.ex", tiny, 2));
  EXPECT_FALSE(is_lookalike_domain("abex.com", tiny, 2));
}

TEST(PolicyLookalike, SeveralStaffDomains) {
  const std::vector<std::string> staff = {"stannes.example", "stannes-federation.example"};
  EXPECT_FALSE(is_lookalike_domain("stannes-federation.example", staff, 2));
  EXPECT_TRUE(is_lookalike_domain("stannes-federaton.example", staff, 2));
  RecipientDomains d = st_annes();
  d.staff = staff;
  EXPECT_EQ(classify_recipient("a@stannes-federation.example", d), RecipientClass::internal);
}

TEST(PolicyClassifyConfig, MostSpecificDomainWinsWhateverTheListOrder) {
  RecipientDomains d;
  d.pupil = {"stannes.example"};
  d.staff = {"staff.stannes.example"};
  EXPECT_EQ(classify_recipient("a@staff.stannes.example", d), RecipientClass::internal);
  EXPECT_EQ(classify_recipient("a@stannes.example", d), RecipientClass::pupil);
}

TEST(PolicyClassifyConfig, SameDomainInTwoListsCountsAsOutside) {
  RecipientDomains d;
  d.staff = {"stannes.example"};
  d.pupil = {"stannes.example"};
  EXPECT_EQ(classify_recipient("a@stannes.example", d), RecipientClass::pupil);
  d.pupil.clear();
  d.partner = {"StAnnes.Example"};
  EXPECT_EQ(classify_recipient("a@stannes.example", d), RecipientClass::partner);
}

TEST(PolicyClassifyConfig, ConfiguredDomainBeatsWebmailAndLookalike) {
  RecipientDomains d = st_annes();
  d.partner.push_back("stannes.exampel");  // deliberately close to the staff domain
  EXPECT_EQ(classify_recipient("a@stannes.exampel", d), RecipientClass::partner);
  d.staff.push_back("gmail.com");  // odd, but the configuration decides
  EXPECT_EQ(classify_recipient("a@gmail.com", d), RecipientClass::internal);
}

TEST(PolicyDomainOf, ExtractsLowerCaseDomain) {
  EXPECT_EQ(domain_of("Head@StAnnes.Example"), "stannes.example");
  EXPECT_EQ(domain_of("<head@stannes.example>"), "stannes.example");
  EXPECT_EQ(domain_of(" head@stannes.example \t"), "stannes.example");
  EXPECT_EQ(domain_of("\"a@b\"@stannes.example"), "stannes.example");
  EXPECT_EQ(domain_of("no-at-sign"), "");
  EXPECT_EQ(domain_of(""), "");
}

}  // namespace
}  // namespace pm
