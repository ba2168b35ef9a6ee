// School days for cover (issue 13): held mail nobody decides is refused after N *school*
// days, so a message held on the last day of term waits for the reviewer's return instead
// of expiring over the holiday.
//
// A school day is a Monday to Friday inside one of the configured terms ([review.cover]
// term_dates, inclusive ranges); everything else - weekends, half terms, holidays - is not.
// Days are the process's local calendar days (the machine's time zone is the school's).
// With no terms configured, no day is a school day (nothing is refused by this count).
// Pure functions of their arguments; thread-safe.
#pragma once

#include <cstdint>
#include <ctime>
#include <vector>

namespace pm {

// Days since 1970-01-01 of a civil date (proleptic Gregorian; H. Hinnant's algorithm).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Term {
  std::int64_t first = 0, last = 0;  // day numbers (days_from_civil), inclusive
};

struct SchoolCalendar {
  std::vector<Term> terms;

  // The local calendar day of unix time `t`.
  static std::int64_t day_of(std::int64_t t) {
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    ::localtime_r(&tt, &tm);
    return days_from_civil(tm.tm_year + 1900, static_cast<unsigned>(tm.tm_mon + 1),
                           static_cast<unsigned>(tm.tm_mday));
  }
  bool is_school_day(std::int64_t day) const {
    // 1970-01-01 was a Thursday: (day + 3) % 7 is 0 on Mondays.
    const std::int64_t weekday = ((day + 3) % 7 + 7) % 7;
    if (weekday >= 5) return false;
    for (const auto& t : terms)
      if (day >= t.first && day <= t.last) return true;
    return false;
  }
  // School days after the day of `from` up to and including the day of `to`: mail held on
  // a Friday afternoon has been waiting one school day on Monday.
  int school_days_between(std::int64_t from, std::int64_t to) const {
    int n = 0;
    for (std::int64_t d = day_of(from) + 1, end = day_of(to); d <= end; ++d)
      n += is_school_day(d) ? 1 : 0;
    return n;
  }
};

}  // namespace pm
