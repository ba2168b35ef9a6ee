// Check-digit validators (POLICY.md, "Identifiers"). Each one first compacts its input
// (drops ASCII spaces, dashes and dots, upper-cases letters) and then checks shape and
// check digit on the compact form. Anything else - other separators, other characters,
// a wrong length - is "not this identifier", never an error.
#include "policy/validators.h"

#include <algorithm>
#include <array>
#include <cstddef>

namespace pm {
namespace {

// Longest compact form any validator accepts (UPN: 13, sort code + account: 14).
constexpr std::size_t kMaxCompact = 16;

struct Compact {
  std::array<char, kMaxCompact> c{};
  std::size_t n = 0;
  char operator[](std::size_t i) const { return c[i]; }
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
int digit(char c) { return c - '0'; }

// False when the compact form is longer than kMaxCompact: no identifier is that long, and
// failing early keeps the validators cheap on long matches.
bool compact(std::string_view s, Compact& out) {
  out.n = 0;
  for (char ch : s) {
    if (ch == ' ' || ch == '-' || ch == '.') continue;
    if (ch >= 'a' && ch <= 'z') ch = char(ch - 'a' + 'A');
    if (out.n == kMaxCompact) return false;
    out.c[out.n++] = ch;
  }
  return true;
}

bool all_digits(const Compact& k, std::size_t from, std::size_t to) {
  for (std::size_t i = from; i < to; ++i)
    if (!is_digit(k[i])) return false;
  return true;
}

// --- UPN --------------------------------------------------------------------------------

// The UPN check alphabet: 23 letters, no I, O or S (they look like 1, 0 and 5).
constexpr std::string_view kUpnAlphabet = "ABCDEFGHJKLMNPQRTUVWXYZ";

// English LA numbers, transcribed from python-stdnum's stdnum/gb/upn.py (which cites the
// DfE "new local authority codes, January 2011" list). Sorted for binary search.
constexpr std::array<int, 152> kLaNumbers = {
    201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211, 212, 213, 301, 302, 303,
    304, 305, 306, 307, 308, 309, 310, 311, 312, 313, 314, 315, 316, 317, 318, 319,
    320, 330, 331, 332, 333, 334, 335, 336, 340, 341, 342, 343, 344, 350, 351, 352,
    353, 354, 355, 356, 357, 358, 359, 370, 371, 372, 373, 380, 381, 382, 383, 384,
    390, 391, 392, 393, 394, 420, 800, 801, 802, 803, 805, 806, 807, 808, 810, 811,
    812, 813, 815, 816, 821, 822, 823, 825, 826, 830, 831, 835, 836, 837, 840, 841,
    845, 846, 850, 851, 852, 855, 856, 857, 860, 861, 865, 866, 867, 868, 869, 870,
    871, 872, 873, 874, 876, 877, 878, 879, 880, 881, 882, 883, 884, 885, 886, 887,
    888, 889, 890, 891, 892, 893, 894, 895, 896, 908, 909, 916, 919, 921, 925, 926,
    928, 929, 931, 933, 935, 936, 937, 938};

bool known_la(int la) { return std::binary_search(kLaNumbers.begin(), kLaNumbers.end(), la); }

int upn_letter_index(char c) {
  auto pos = kUpnAlphabet.find(c);
  return pos == std::string_view::npos ? -1 : int(pos);
}

// --- NINO -------------------------------------------------------------------------------

bool nino_prefix_letter_ok(char c) {
  return is_upper(c) && std::string_view("DFIQUV").find(c) == std::string_view::npos;
}

// Never issued (BG, GB, KN, NK, NT, TN, ZZ) or administrative, not a person's (OO, CR, FY,
// MW, NC, PP, PY, PZ). OO is also caught by the "second letter is never O" rule; it stays
// listed so the table matches HMRC NIM39110.
bool nino_prefix_excluded(char a, char b) {
  static constexpr std::string_view kExcluded[] = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ", "OO",
                                                   "CR", "FY", "MW", "NC", "PP", "PY", "PZ"};
  for (auto p : kExcluded)
    if (p[0] == a && p[1] == b) return true;
  return false;
}

}  // namespace

bool valid_upn(std::string_view s) {
  Compact k;
  if (!compact(s, k) || k.n != 13) return false;
  // Check letter, then 11 digits (LA 3, establishment 4, year 2, first two serial digits),
  // then the last serial digit - or, in a temporary UPN, a letter of the check alphabet.
  const int check = upn_letter_index(k[0]);
  if (check < 0 || !all_digits(k, 1, 12)) return false;
  int last;
  if (is_digit(k[12])) {
    last = digit(k[12]);
  } else {
    last = upn_letter_index(k[12]);
    if (last < 0) return false;
  }
  if (!known_la(digit(k[1]) * 100 + digit(k[2]) * 10 + digit(k[3]))) return false;
  int sum = 13 * last;
  for (std::size_t i = 1; i < 12; ++i) sum += int(i + 1) * digit(k[i]);  // char i+1 has weight i+1
  return sum % 23 == check;
}

bool valid_nhs(std::string_view s) {
  Compact k;
  if (!compact(s, k) || k.n != 10 || !all_digits(k, 0, 10)) return false;
  // Every repdigit (0000000000, 1111111111, ...) passes the mod-11 arithmetic below, and
  // they are what people type as placeholders; none is an issued NHS number.
  if (std::all_of(k.c.begin(), k.c.begin() + 10, [&](char c) { return c == k[0]; })) return false;
  int sum = 0;
  for (std::size_t i = 0; i < 9; ++i) sum += int(10 - i) * digit(k[i]);
  int check = 11 - sum % 11;
  if (check == 11) check = 0;
  if (check == 10) return false;  // such a number is never issued
  return check == digit(k[9]);
}

bool valid_uln(std::string_view s) {
  Compact k;
  if (!compact(s, k) || k.n != 10 || !all_digits(k, 0, 10) || k[0] == '0') return false;
  // 9999999999 is the placeholder for "learner has no ULN yet" (ESFA's temporary ULN).
  if (std::string_view(k.c.data(), 10) == "9999999999") return false;
  int sum = 0;
  for (std::size_t i = 0; i < 10; ++i) sum += int(10 - i) * digit(k[i]);
  return sum % 11 == 10;
}

bool valid_nino(std::string_view s) {
  Compact k;
  if (!compact(s, k) || k.n != 9) return false;
  const char a = k[0], b = k[1], suffix = k[8];
  if (!nino_prefix_letter_ok(a) || !nino_prefix_letter_ok(b) || b == 'O') return false;
  if (nino_prefix_excluded(a, b)) return false;
  if (!all_digits(k, 2, 8)) return false;
  return suffix >= 'A' && suffix <= 'D';
}

bool valid_sort_account(std::string_view s) {
  // Shape only (there is no public check digit): a 6-digit sort code, then an 8-digit
  // account number.
  Compact k;
  return compact(s, k) && k.n == 14 && all_digits(k, 0, 14);
}

Validator find_validator(std::string_view name) {
  if (name == "upn") return &valid_upn;
  if (name == "nhs") return &valid_nhs;
  if (name == "uln") return &valid_uln;
  if (name == "nino") return &valid_nino;
  if (name == "sort-account") return &valid_sort_account;
  return nullptr;
}

}  // namespace pm
