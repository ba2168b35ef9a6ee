// Known-answer tests for the identifier validators (POLICY.md, "Identifiers"). Valid
// numbers are the documented examples or generated here by computing their check digit,
// so no real person's identifier is in the test data.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "policy/validators.h"

namespace pm {
namespace {

constexpr std::string_view kUpnAlphabet = "ABCDEFGHJKLMNPQRTUVWXYZ";

// body: the 12 characters after the check letter; returns the full UPN.
std::string make_upn(std::string_view body) {
  int sum = 0;
  for (std::size_t i = 0; i < 12; ++i) {
    const char c = body[i];
    const int v = (c >= '0' && c <= '9') ? c - '0' : int(kUpnAlphabet.find(c));
    sum += int(i + 2) * v;
  }
  return std::string(1, kUpnAlphabet[sum % 23]) + std::string(body);
}

// Check digit for 9 NHS digits; 10 means "never issued".
int nhs_check(std::string_view nine) {
  int sum = 0;
  for (int i = 0; i < 9; ++i) sum += (10 - i) * (nine[i] - '0');
  const int c = 11 - sum % 11;
  return c == 11 ? 0 : c;
}

// Check digit for 9 ULN digits; -1 when no digit makes the sum mod 11 equal 10.
int uln_check(std::string_view nine) {
  int sum = 0;
  for (int i = 0; i < 9; ++i) sum += (10 - i) * (nine[i] - '0');
  for (int d = 0; d <= 9; ++d)
    if ((sum + d) % 11 == 10) return d;
  return -1;
}

// Look-alikes that no validator may accept.
const char* const kNeverIdentifiers[] = {
    "978-0-14-103614-4",  // ISBN-13
    "9780141036144",      // the same, compact
    "0800 123 4567",      // freephone number
    "",
    "   ",
    "---",
    "ORDER-12345",
};

TEST(PolicyValidators, LookAlikesAreNoIdentifier) {
  for (const char* s : kNeverIdentifiers) {
    EXPECT_FALSE(valid_upn(s)) << s;
    EXPECT_FALSE(valid_nhs(s)) << s;
    EXPECT_FALSE(valid_uln(s)) << s;
    EXPECT_FALSE(valid_nino(s)) << s;
  }
}

// --- UPN ---------------------------------------------------------------------------------

TEST(PolicyUpn, DocumentedExampleIsValid) {
  EXPECT_TRUE(valid_upn("B801200005001"));
  EXPECT_TRUE(valid_upn("b801200005001"));
  EXPECT_TRUE(valid_upn("B 801 2000 05 001"));
  EXPECT_TRUE(valid_upn("B-801-2000-05-001"));
  EXPECT_TRUE(valid_upn("B.801.2000.05.001"));
}

TEST(PolicyUpn, WrongCheckLetterIsInvalid) {
  EXPECT_FALSE(valid_upn("A801200005001"));
  for (char c : kUpnAlphabet)
    if (c != 'B') {
      EXPECT_FALSE(valid_upn(std::string(1, c) + "801200005001")) << c;
    }
}

TEST(PolicyUpn, GeneratedSomersetUpnsAreValid) {
  for (const char* body : {"933212324001", "933212324999", "933000000000", "933400119123"}) {
    const std::string upn = make_upn(body);
    EXPECT_TRUE(valid_upn(upn)) << upn;
    // A single changed digit breaks the check (weights 2..13 are all units mod 23).
    std::string bad = upn;
    bad[7] = bad[7] == '9' ? '0' : char(bad[7] + 1);
    EXPECT_FALSE(valid_upn(bad)) << bad;
  }
}

TEST(PolicyUpn, TemporaryUpnEndsInALetter) {
  const std::string tmp = make_upn("93321232400A");
  EXPECT_TRUE(valid_upn(tmp)) << tmp;
  EXPECT_TRUE(valid_upn(make_upn("93321232401Z")));
  std::string lower = tmp;
  lower[12] = 'a';
  EXPECT_TRUE(valid_upn(lower));
  // I, O and S are not in the check alphabet, wherever they appear.
  for (char c : {'I', 'O', 'S'}) {
    std::string t = tmp;
    t[12] = c;
    EXPECT_FALSE(valid_upn(t)) << t;
    std::string first = std::string(1, c) + "801200005001";
    EXPECT_FALSE(valid_upn(first)) << first;
  }
}

TEST(PolicyUpn, WrongShapeIsInvalid) {
  EXPECT_FALSE(valid_upn("X80120000A001"));    // letter in the middle (python-stdnum's example)
  EXPECT_FALSE(valid_upn("B80120000500"));     // 12 chars
  EXPECT_FALSE(valid_upn("B8012000050011"));   // 14 chars
  EXPECT_FALSE(valid_upn("1801200005001"));    // no check letter
  EXPECT_FALSE(valid_upn("B801200005001/"));   // other punctuation is not ignored
  EXPECT_FALSE(valid_upn("B801200005001 B801200005001"));
}

TEST(PolicyUpn, UnknownLaNumberIsInvalid) {
  EXPECT_FALSE(valid_upn("E000200005001"));  // python-stdnum's example
  for (const char* la : {"000", "100", "214", "999", "934", "421", "800"}) {
    const std::string upn = make_upn(std::string(la) + "200005001");
    EXPECT_EQ(valid_upn(upn), std::string_view(la) == "800") << upn;
  }
}

// --- NHS number --------------------------------------------------------------------------

TEST(PolicyNhs, DocumentedExampleIsValid) {
  EXPECT_TRUE(valid_nhs("943 476 5919"));
  EXPECT_TRUE(valid_nhs("943-476-5919"));
  EXPECT_TRUE(valid_nhs("9434765919"));
  EXPECT_TRUE(valid_nhs(" 943.476.5919 "));
}

TEST(PolicyNhs, WrongCheckDigitIsInvalid) {
  for (char d = '0'; d <= '9'; ++d)
    if (d != '9') {
      EXPECT_FALSE(valid_nhs(std::string("943476591") + d)) << d;
    }
}

TEST(PolicyNhs, GeneratedNumbersAreValidAndCheckTenNeverIs) {
  int valid = 0, never = 0;
  for (int n = 400000000; n < 400000000 + 300; ++n) {
    const std::string nine = std::to_string(n);
    const int c = nhs_check(nine);
    if (c == 10) {
      ++never;
      for (char d = '0'; d <= '9'; ++d) EXPECT_FALSE(valid_nhs(nine + d)) << nine << d;
    } else {
      ++valid;
      EXPECT_TRUE(valid_nhs(nine + char('0' + c))) << nine << c;
    }
  }
  EXPECT_GT(valid, 200);
  EXPECT_GT(never, 0);  // the "10: never issued" branch was exercised
}

TEST(PolicyNhs, WrongShapeAndPlaceholdersAreInvalid) {
  EXPECT_FALSE(valid_nhs("943476591"));      // 9 digits
  EXPECT_FALSE(valid_nhs("94347659190"));    // 11 digits
  EXPECT_FALSE(valid_nhs("943 476 591X"));
  EXPECT_FALSE(valid_nhs("943_476_5919"));   // only spaces, dashes, dots are separators
  for (char d = '0'; d <= '9'; ++d) EXPECT_FALSE(valid_nhs(std::string(10, d))) << d;
}

// --- ULN ---------------------------------------------------------------------------------

TEST(PolicyUln, GeneratedNumbersAreValid) {
  int valid = 0, impossible = 0;
  for (long n = 100000000; n < 100000000 + 300; ++n) {
    const std::string nine = std::to_string(n);
    const int c = uln_check(nine);
    if (c < 0) {
      ++impossible;
      for (char d = '0'; d <= '9'; ++d) EXPECT_FALSE(valid_uln(nine + d)) << nine << d;
      continue;
    }
    ++valid;
    EXPECT_TRUE(valid_uln(nine + char('0' + c))) << nine << c;
    EXPECT_FALSE(valid_uln(nine + char('0' + (c + 1) % 10))) << nine;
  }
  EXPECT_GT(valid, 200);
  EXPECT_GT(impossible, 0);
}

TEST(PolicyUln, KnownAnswers) {
  // 1,0,...,0,4 weighted 10..2 = 18; 18 + 3 = 21 = 10 (mod 11).
  EXPECT_TRUE(valid_uln("1000000043"));
  EXPECT_TRUE(valid_uln("100 000 0043"));
  EXPECT_FALSE(valid_uln("1000000042"));
  EXPECT_FALSE(valid_uln("9999999999"));  // the placeholder
  EXPECT_FALSE(valid_uln("999999999"));
}

TEST(PolicyUln, LeadingZeroIsInvalid) {
  // 0,1,0,...,0,d: 9 + d = 10 (mod 11) at d = 1, so only the leading zero rules it out.
  EXPECT_FALSE(valid_uln("0100000001"));
  ASSERT_EQ(uln_check("010000000"), 1);  // the arithmetic alone would accept it
}

// --- NI number ---------------------------------------------------------------------------

TEST(PolicyNino, WellFormedNumbersAreValid) {
  EXPECT_TRUE(valid_nino("AB123456C"));
  EXPECT_TRUE(valid_nino("ab 12 34 56 c"));
  EXPECT_TRUE(valid_nino("JG-10-37-29-A"));
  for (char s : {'A', 'B', 'C', 'D'}) EXPECT_TRUE(valid_nino(std::string("ZA000000") + s)) << s;
}

TEST(PolicyNino, HmrcExampleIsInvalid) {
  EXPECT_FALSE(valid_nino("QQ123456C"));
  EXPECT_FALSE(valid_nino("QQ 12 34 56 A"));
}

TEST(PolicyNino, ForbiddenLettersAreInvalid) {
  for (char c : {'D', 'F', 'I', 'Q', 'U', 'V'}) {
    EXPECT_FALSE(valid_nino(std::string(1, c) + "A123456C")) << c << " first";
    EXPECT_FALSE(valid_nino(std::string("A") + c + "123456C")) << c << " second";
  }
  EXPECT_FALSE(valid_nino("AO123456C"));  // second letter never O
  EXPECT_TRUE(valid_nino("OA123456C"));   // O is fine first
}

TEST(PolicyNino, ExcludedPrefixesAreInvalid) {
  for (const char* p : {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ", "OO", "CR", "FY", "MW", "NC",
                        "PP", "PY", "PZ"})
    EXPECT_FALSE(valid_nino(std::string(p) + "123456A")) << p;
  for (const char* p : {"BH", "GA", "KM", "NA", "TM", "ZY", "CE", "PR"})
    EXPECT_TRUE(valid_nino(std::string(p) + "123456A")) << p;
}

TEST(PolicyNino, WrongShapeIsInvalid) {
  EXPECT_FALSE(valid_nino("AB123456E"));   // suffix beyond D
  EXPECT_FALSE(valid_nino("AB123456"));    // no suffix
  EXPECT_FALSE(valid_nino("AB1234567C"));
  EXPECT_FALSE(valid_nino("AB12345C"));
  EXPECT_FALSE(valid_nino("A1123456C"));
  EXPECT_FALSE(valid_nino("AB12345XC"));
}

// --- sort code + account -----------------------------------------------------------------

TEST(PolicySortAccount, ShapeOnly) {
  EXPECT_TRUE(valid_sort_account("12-34-56 12345678"));
  EXPECT_TRUE(valid_sort_account("12 34 56 1234 5678"));
  EXPECT_FALSE(valid_sort_account("12-34-56 1234567"));
  EXPECT_FALSE(valid_sort_account("12-34-56 123456789"));
  EXPECT_FALSE(valid_sort_account("12-34-5X 12345678"));
  EXPECT_FALSE(valid_sort_account("0800 123 4567"));
  EXPECT_FALSE(valid_sort_account(""));
}

// --- lookup ------------------------------------------------------------------------------

TEST(PolicyValidators, FindByName) {
  EXPECT_EQ(find_validator("upn"), &valid_upn);
  EXPECT_EQ(find_validator("nhs"), &valid_nhs);
  EXPECT_EQ(find_validator("uln"), &valid_uln);
  EXPECT_EQ(find_validator("nino"), &valid_nino);
  EXPECT_EQ(find_validator("sort-account"), &valid_sort_account);
  EXPECT_EQ(find_validator("UPN"), nullptr);
  EXPECT_EQ(find_validator("isbn"), nullptr);
  EXPECT_EQ(find_validator(""), nullptr);
}

TEST(PolicyValidators, LongInputIsRejectedNotOverrun) {
  const std::string long_digits(10000, '1');
  EXPECT_FALSE(valid_upn(long_digits));
  EXPECT_FALSE(valid_nhs(long_digits));
  EXPECT_FALSE(valid_uln(long_digits));
  EXPECT_FALSE(valid_nino(long_digits));
  EXPECT_FALSE(valid_sort_account(long_digits));
  // Separators do not count against the length.
  EXPECT_TRUE(valid_nhs(std::string(500, ' ') + "9434765919" + std::string(500, '-')));
}

}  // namespace
}  // namespace pm
