// Spreadsheet number formats: what a cell shows is what the rules must see.
#include <gtest/gtest.h>

#include "decode/attachments/number_format.h"

namespace pm::attachments::detail {
namespace {

TEST(AttachNumberFormat, BuiltInDatesAreUkDates) {
  EXPECT_EQ(format_number(42441, builtin_number_format(14)), "12/03/2016");
  EXPECT_EQ(format_number(42441, builtin_number_format(15)), "12-Mar-16");
  EXPECT_EQ(format_number(42441.5, builtin_number_format(22)), "12/03/2016 12:00");
  EXPECT_EQ(format_number(0.75, builtin_number_format(18)), "6:00 PM");
  EXPECT_TRUE(is_date_format(builtin_number_format(14)));
  EXPECT_FALSE(is_date_format(builtin_number_format(4)));
}

TEST(AttachNumberFormat, CustomDateCodes) {
  EXPECT_EQ(format_number(42441, "dd/mm/yyyy"), "12/03/2016");
  EXPECT_EQ(format_number(42441, "d mmmm yyyy"), "12 March 2016");
  EXPECT_EQ(format_number(42441, "[$-809]dd mmm yy;@"), "12 Mar 16");
  EXPECT_EQ(format_number(42441, "yyyy\\-mm\\-dd"), "2016-03-12");
  EXPECT_EQ(format_number(0.5 + 1.0 / 1440, "hh:mm"), "12:01");  // mm after hh is minutes
  EXPECT_EQ(format_number(60, "dd/mm/yyyy") != "", true);        // Excel's phantom 29/02/1900
  EXPECT_EQ(format_number(61, "dd/mm/yyyy"), "01/03/1900");
  EXPECT_EQ(format_number(0, "dd/mm/yyyy", true), "01/01/1904");
}

TEST(AttachNumberFormat, NumbersAsShown) {
  EXPECT_EQ(format_number(42441, "General"), "42441");
  EXPECT_EQ(format_number(9434765919, ""), "9434765919");
  EXPECT_EQ(format_number(0.1 + 0.2, "General"), "0.3");
  EXPECT_EQ(format_number(1234.5, "#,##0.00"), "1,234.50");
  EXPECT_EQ(format_number(0.125, "0.0%"), "12.5%");
  EXPECT_EQ(format_number(7700900123, "00000000000"), "07700900123");
  EXPECT_EQ(format_number(7700900123, "00000 000000"), "07700 900123");
  EXPECT_EQ(format_number(12.5, "\"\xC2\xA3\"#,##0.00"), "\xC2\xA3" "12.50");
  EXPECT_EQ(format_number(-5, "0;(0)"), "(5)");
}

}  // namespace
}  // namespace pm::attachments::detail
