// Several schools in one configuration (policy/schools.h): which school a message belongs
// to, and the classes of its recipients judged against that school and the trust.
#include "policy/schools.h"

#include <gtest/gtest.h>

namespace pm {
namespace {

// Two schools of one trust with domains of their own, and a third on the trust's shared
// staff domain.
std::vector<SchoolDomains> trust() {
  SchoolDomains annes{"st-annes", {}}, marys{"st-marys", {}};
  annes.domains.staff = {"stannes.example"};
  annes.domains.pupil = {"pupils.stannes.example"};
  annes.domains.partner = {"somerset-la.example"};
  annes.domains.outside_lists = {"year5-parents@stannes.example"};
  annes.domains.webmail = {"gmail.com"};
  marys.domains.staff = {"stmarys.example"};
  marys.domains.pupil = {"pupils.stmarys.example"};
  marys.domains.partner = {"devon-la.example"};
  marys.domains.outside_lists = {"pta@stmarys.example"};
  marys.domains.webmail = {"gmail.com"};
  return {annes, marys};
}

StaffRoles no_staff_file() {
  return StaffRoles::parse("");
}

TEST(ResolveSchool, TheSenderDomainDecides) {
  auto s = trust();
  SchoolChoice a = resolve_school("j.smith@stannes.example", s, no_staff_file());
  EXPECT_EQ(a.index, 0u);
  EXPECT_EQ(a.reason, SchoolReason::sender_domain);
  EXPECT_EQ(describe_school(a, s), "st-annes (sender domain stannes.example)");
  SchoolChoice m = resolve_school("<T.Okafor@StMarys.Example>", s, no_staff_file());
  EXPECT_EQ(m.index, 1u);
  EXPECT_EQ(describe_school(m, s), "st-marys (sender domain stmarys.example)");
  // A subdomain of a school's staff domain is that school's.
  EXPECT_EQ(resolve_school("office@admin.stmarys.example", s, no_staff_file()).index, 1u);
}

TEST(ResolveSchool, ASenderOfNoSchoolGoesToTheFirstAndSaysSo) {
  auto s = trust();
  SchoolChoice c = resolve_school("alerts@monitoring.example", s, no_staff_file());
  EXPECT_EQ(c.index, 0u);
  EXPECT_EQ(c.reason, SchoolReason::no_school);
  EXPECT_EQ(describe_school(c, s),
            "st-annes (sender domain monitoring.example is no school's: the first school)");
  // The explanation names the domain, never the address.
  EXPECT_EQ(describe_school(c, s).find("alerts@"), std::string::npos);
  EXPECT_EQ(resolve_school("", s, no_staff_file()).reason, SchoolReason::no_school);
}

TEST(ResolveSchool, ASharedStaffDomainIsDecidedByTheStaffFile) {
  auto s = trust();
  s[0].domains.staff.push_back("trust.example");
  s[1].domains.staff.push_back("trust.example");
  StaffRoles staff = StaffRoles::parse(
      "email,roles,school\n"
      "h.ashdown@trust.example,dsl,st-marys\n"
      "k.foley@trust.example,,st-annes\n"
      "r.kemble@trust.example,senco,\n");
  SchoolChoice h = resolve_school("H.Ashdown@trust.example", s, staff);
  EXPECT_EQ(h.index, 1u);
  EXPECT_EQ(h.reason, SchoolReason::staff_file);
  EXPECT_EQ(describe_school(h, s),
            "st-marys (staff file: trust.example is shared by several schools)");
  EXPECT_EQ(resolve_school("k.foley@trust.example", s, staff).index, 0u);
  // Listed without a school, or not listed at all: the first school sharing the domain.
  SchoolChoice r = resolve_school("r.kemble@trust.example", s, staff);
  EXPECT_EQ(r.index, 0u);
  EXPECT_EQ(r.reason, SchoolReason::shared_unlisted);
  EXPECT_EQ(resolve_school("new.starter@trust.example", s, staff).reason,
            SchoolReason::shared_unlisted);
  // The school's own domain still decides for its own addresses, whatever the file says.
  EXPECT_EQ(resolve_school("h.ashdown@stannes.example", s, staff).index, 0u);
}

TEST(ResolveSchool, TheMostSpecificStaffDomainWins) {
  auto s = trust();
  s[0].domains.staff = {"trust.example"};
  s[1].domains.staff = {"stmarys.trust.example"};
  EXPECT_EQ(resolve_school("a@stmarys.trust.example", s, no_staff_file()).index, 1u);
  EXPECT_EQ(resolve_school("a@trust.example", s, no_staff_file()).index, 0u);
}

TEST(ResolveSchool, OneSchoolIsAlwaysThatSchool) {
  std::vector<SchoolDomains> one = {trust()[0]};
  one[0].id = "";
  SchoolChoice c = resolve_school("anyone@elsewhere.example", one, no_staff_file());
  EXPECT_EQ(c.index, 0u);
  EXPECT_EQ(c.reason, SchoolReason::single);
}

TEST(JudgedDomains, ASistersColleagueIsTheTrustsChoiceAndItsPupilsArePupils) {
  auto s = trust();
  for (RecipientClass colleague : {RecipientClass::internal, RecipientClass::external}) {
    RecipientDomains a = judged_domains(s, 0, colleague);
    EXPECT_EQ(classify_recipient("k.foley@stannes.example", a), RecipientClass::internal);
    EXPECT_EQ(classify_recipient("t.okafor@stmarys.example", a), colleague);
    EXPECT_EQ(classify_recipient("sam@pupils.stmarys.example", a), RecipientClass::pupil);
    EXPECT_EQ(classify_recipient("sam@pupils.stannes.example", a), RecipientClass::pupil);
    // Partners are each school's own: Devon is St Mary's partner, not St Anne's.
    EXPECT_EQ(classify_recipient("mash@somerset-la.example", a), RecipientClass::partner);
    EXPECT_EQ(classify_recipient("mash@devon-la.example", a), RecipientClass::external);
    // A sister school's list with outside members is outside.
    EXPECT_EQ(classify_recipient("pta@stmarys.example", a), RecipientClass::external);
    // A sister school's real domain is never a lookalike; a typo of it is.
    EXPECT_EQ(classify_recipient("t.okafor@stmarys.exampel", a), RecipientClass::lookalike);
    EXPECT_EQ(lookalike_of("stmarys.exampel", lookalike_bases(a), 2), "stmarys.example");
  }
  RecipientDomains m = judged_domains(s, 1, RecipientClass::external);
  EXPECT_EQ(classify_recipient("t.okafor@stmarys.example", m), RecipientClass::internal);
  EXPECT_EQ(classify_recipient("k.foley@stannes.example", m), RecipientClass::external);
  EXPECT_EQ(classify_recipient("mash@devon-la.example", m), RecipientClass::partner);
  EXPECT_EQ(classify_recipient("mash@somerset-la.example", m), RecipientClass::external);
}

TEST(JudgedDomains, SimilarSisterDomainsAreNotLookalikesOfEachOther) {
  // "stanne.example" is one edit from "stannes.example": as a school of the trust it is
  // that school's domain, not a typo.
  auto s = trust();
  s[1].domains.staff = {"stanne.example"};
  RecipientDomains a = judged_domains(s, 0, RecipientClass::external);
  EXPECT_EQ(classify_recipient("x@stanne.example", a), RecipientClass::external);
  RecipientDomains b = judged_domains(s, 0, RecipientClass::internal);
  EXPECT_EQ(classify_recipient("x@stanne.example", b), RecipientClass::internal);
}

TEST(JudgedDomains, ASharedStaffDomainIsEachSchoolsOwn) {
  auto s = trust();
  s[0].domains.staff.push_back("trust.example");
  s[1].domains.staff.push_back("trust.example");
  RecipientDomains a = judged_domains(s, 0, RecipientClass::external);
  EXPECT_EQ(classify_recipient("anyone@trust.example", a), RecipientClass::internal);
  EXPECT_EQ(shared_staff_domains(s), std::vector<std::string>{"trust.example"});
  EXPECT_TRUE(shared_staff_domains(trust()).empty());
}

TEST(JudgedDomains, OneSchoolIsJudgedAsBefore) {
  std::vector<SchoolDomains> one = {trust()[0]};
  RecipientDomains d = judged_domains(one, 0, RecipientClass::external);
  EXPECT_TRUE(d.other_staff.empty());
  EXPECT_EQ(d.staff, one[0].domains.staff);
  EXPECT_EQ(d.pupil, one[0].domains.pupil);
  EXPECT_EQ(classify_recipient("t.okafor@stmarys.example", d), RecipientClass::external);
}

TEST(StaffRolesSchoolColumn, AHeaderNamesTheColumnAndIdsAreChecked) {
  StaffRoles r = StaffRoles::parse(
      "Name,Email,Roles,School\n"
      "Helen Ashdown,h.ashdown@trust.example,dsl;head,st-marys\n"
      "Kim Foley,k.foley@trust.example,,St-Annes\n");
  EXPECT_TRUE(r.has_school_column());
  EXPECT_EQ(r.school_of("H.Ashdown@trust.example"), "st-marys");
  EXPECT_EQ(r.school_of("k.foley@trust.example"), "st-annes");
  EXPECT_TRUE(r.has("h.ashdown@trust.example", {"dsl"}));
  EXPECT_FALSE(r.has("h.ashdown@trust.example", {"st-marys"}));  // the school is no role
  EXPECT_FALSE(r.has("k.foley@trust.example", {"st-annes"}));
  ASSERT_EQ(r.schools().size(), 2u);
  EXPECT_EQ(r.schools().at("k.foley@trust.example").second, 3);  // its line
  // Without the header the old format is unchanged: every field after the address a role.
  StaffRoles old = StaffRoles::parse("h.ashdown@stannes.example,dsl,st-marys\n");
  EXPECT_FALSE(old.has_school_column());
  EXPECT_TRUE(old.has("h.ashdown@stannes.example", {"st-marys"}));
  // No school and no role is still an error.
  EXPECT_THROW(StaffRoles::parse("email,role,school\na@trust.example,,\n"), std::invalid_argument);
}

}  // namespace
}  // namespace pm
