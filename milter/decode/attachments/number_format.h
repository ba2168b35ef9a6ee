// Spreadsheet numbers as a person sees them (SpreadsheetML number formats).
//
// Why: an xlsx stores a date of birth as the serial 42441 and a mobile number as 7700900123;
// rules look for "12/03/2016" next to a name and "07700 900123", so the cell's number format
// must be applied before any rule runs. Covers what school spreadsheets use: General, the
// built-in formats (dates 14-22 rendered the UK way, 45-47 times), custom date/time codes
// (d dd ddd dddd m mm mmm mmmm yy yyyy h hh mm ss AM/PM) and custom number codes (zero
// padding, decimals, thousands separators, percent, literal text). Anything else falls back
// to General. Pure functions, thread-safe, never throw.
#pragma once

#include <string>
#include <string_view>

namespace pm::attachments::detail {

// The format code of a built-in numFmtId ("" when unknown: treat as General).
std::string builtin_number_format(unsigned id);

// True when the code shows a date or time (d, m, y, h or s outside quotes and brackets).
bool is_date_format(std::string_view code);

// Renders `value` with `code`; `date1904` is the workbook's date system.
std::string format_number(double value, std::string_view code, bool date1904 = false);

}  // namespace pm::attachments::detail
