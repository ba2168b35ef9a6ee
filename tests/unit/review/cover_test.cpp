// Issue 13 in the service, against a real store and a real SMTP sink, with a fake clock:
// cover (deputies decide, escalation one level at a time, refusal counted in school days
// and never in a holiday), the digest and the outbox sent once by several services on one
// store, and senders' links (signed, single-message, expiring).
#include <gtest/gtest.h>
#include <fstream>

#include <atomic>
#include <ctime>
#include <thread>

#include "fixture.h"
#include "notify/outbox.h"
#include "util/error.h"

namespace pm {
namespace {

using test::Fixture;

std::int64_t real_now() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

std::size_t count_to(const std::vector<test::SunkMessage>& msgs, const std::string& rcpt,
                     const std::string& text = "") {
  std::size_t n = 0;
  for (const auto& m : msgs)
    for (const auto& r : m.rcpts) n += r == rcpt && m.data.find(text) != std::string::npos;
  return n;
}

// A route for confidential mail: the head decides, the deputy and then the chair cover.
ReviewConfig cover_config(Fixture& f) {
  ReviewConfig c = f.cfg;
  ReviewRoute r;
  r.name = "confidential";
  r.categories = {"confidential"};
  r.reviewers = {"head.teacher"};
  r.deputies = {"duty:deputy", "chair"};
  c.routes.insert(c.routes.begin(), r);
  c.escalate_after_hours = 4;
  return c;
}

TEST(Cover, DeputiesMayDecideAndEscalationReachesEachLevelOnce) {
  Fixture f;
  f.add_user("dep", Role::reviewer, "deputy@stannes.example");
  f.users->set_duties("dep", {"deputy"});
  std::int64_t clock = real_now();
  ReviewService svc(cover_config(f), *f.store, *f.users, [&] { return clock; });
  const std::string id = f.put_confidential();
  const std::int64_t t0 = f.store->get(id)->received_at;
  EXPECT_TRUE(svc.may_review(f.account("dep"), *f.store->get(id)));  // a delegate
  EXPECT_FALSE(svc.may_review(f.account("it.admin"), *f.store->get(id)));

  clock = t0 + 3 * 3600 + 3599;  // under one step: nobody is escalated to
  EXPECT_EQ(svc.escalate(clock).escalations, 0);
  clock = t0 + 4 * 3600;
  EXPECT_EQ(svc.escalate(clock).escalations, 1);
  EXPECT_EQ(svc.escalate(clock + 60).escalations, 0);  // once per level
  auto got = f.sink->wait_for(1);
  EXPECT_EQ(count_to(got, "deputy@stannes.example", "Cover: held mail undecided for 4 hours"), 1u);
  EXPECT_EQ(count_to(got, "chair@governors.example"), 0u);
  EXPECT_EQ(got.back().data.find("943 476 5919"), std::string::npos);  // no evidence

  clock = t0 + 8 * 3600;  // the next person on the route
  EXPECT_EQ(svc.escalate(clock).escalations, 1);
  got = f.sink->wait_for(2);
  EXPECT_EQ(count_to(got, "chair@governors.example", "Cover:"), 1u);
  EXPECT_EQ(count_to(got, "deputy@stannes.example"), 1u);
  clock = t0 + 100 * 3600;  // the route has no third level
  EXPECT_EQ(svc.escalate(clock).escalations, 0);
  int audited = 0;
  for (const auto& e : f.store->audit_log(id)) audited += e.action == "escalated";
  EXPECT_EQ(audited, 2);

  // Decided mail is not escalated.
  const std::string other = f.put_confidential();
  svc.refuse("dep", other, "");
  clock = f.store->get(other)->received_at + 5 * 3600;
  std::size_t before = f.sink->messages().size();
  EXPECT_EQ(svc.escalate(clock).escalations, 0);
  EXPECT_EQ(f.sink->messages().size(), before);
}

TEST(Cover, RefusalCountsSchoolDaysAndNeverFallsInAHoliday) {
  Fixture f;
  const std::string id = f.put_confidential();
  const std::int64_t t0 = f.store->get(id)->received_at;
  const std::int64_t d0 = SchoolCalendar::day_of(t0);
  ReviewConfig c = f.cfg;
  c.refuse_after_school_days = 3;
  // Term ends the day after the message was held (at most one school day left), then a
  // three-week holiday, then the next term.
  c.calendar.terms = {{d0 - 30, d0 + 1}, {d0 + 22, d0 + 90}};
  std::int64_t clock = t0;
  ReviewService svc(c, *f.store, *f.users, [&] { return clock; });
  // The test's own count: the day the third school day after d0 falls on.
  std::int64_t expected = 0;
  for (std::int64_t d = d0 + 1, n = 0; !expected; ++d) {
    bool weekday = ((d + 3) % 7 + 7) % 7 < 5;
    bool in_term = d <= d0 + 1 || (d >= d0 + 22 && d <= d0 + 90);
    if (weekday && in_term && ++n == 3) expected = d;
  }
  ASSERT_GE(expected, d0 + 22);  // after the holiday
  for (std::int64_t d = d0 + 1; d < expected; ++d) {
    clock = t0 + (d - d0) * 86400;
    EXPECT_EQ(svc.retention(clock).expired, 0) << "day " << d - d0;
    ASSERT_EQ(f.store->get(id)->status, QuarantineStatus::held) << "day " << d - d0;
  }
  clock = t0 + (expected - d0) * 86400;
  EXPECT_EQ(svc.retention(clock).expired, 1);
  EXPECT_EQ(f.store->get(id)->status, QuarantineStatus::refused);
  EXPECT_EQ(f.store->get(id)->status_by, "policy-review (retention)");
  // Held long past held_days (14 calendar days): only school days count.
  EXPECT_GT(expected - d0, c.held_days);
}

// The shipped configuration with `extra` appended; the ConfigError's text, or "" if none.
std::string load_with(Fixture& f, const std::string& extra, ReviewConfig* out = nullptr) {
  std::ifstream in(std::string(PM_SOURCE_DIR) + "/conf/policy-milter.toml");
  std::string text, line;
  bool shipped_cover = false;  // the shipped [review.cover] table is replaced by `extra`
  while (std::getline(in, line)) {
    if (line.rfind("[", 0) == 0) shipped_cover = line == "[review.cover]";
    if (shipped_cover) continue;
    text +=
        (line.rfind("dir = \"../rules\"", 0) == 0 ? "dir = \"" PM_SOURCE_DIR "/rules\"" : line) +
        "\n";
  }
  auto p = f.dir / "cover.toml";
  std::ofstream(p) << text << extra;
  try {
    ReviewConfig c = load_review_config(p);
    if (out) *out = c;
    return "";
  } catch (const ConfigError& e) {
    return e.what();
  }
}

TEST(Cover, SchoolDayConfigNeedsTermDates) {
  Fixture f;
  ReviewConfig c;
  EXPECT_EQ(load_with(f, "[review.cover]\n", &c), "");
  EXPECT_EQ(c.refuse_after_school_days, 0);  // off unless configured
  EXPECT_EQ(c.escalate_after_hours, 24);     // on, but a route without deputies is not escalated
  EXPECT_NE(load_with(f, "[review.cover]\nrefuse_after_school_days = 5\n").find("term_dates"),
            std::string::npos);
  EXPECT_EQ(load_with(f,
                      "[review.cover]\nrefuse_after_school_days = 5\nescalate_after_hours = 24\n"
                      "deputies = [\"duty:deputy\"]\nterm_dates = [{start = 2026-09-03, end = "
                      "2026-10-23}, {start = \"2026-11-02\", end = \"2026-12-18\"}]\n",
                      &c),
            "");
  EXPECT_EQ(c.refuse_after_school_days, 5);
  EXPECT_EQ(c.escalate_after_hours, 24);
  EXPECT_EQ(c.deputies, std::vector<std::string>{"duty:deputy"});
  ASSERT_EQ(c.calendar.terms.size(), 2u);
  EXPECT_TRUE(c.calendar.is_school_day(days_from_civil(2026, 9, 3)));     // a Thursday
  EXPECT_FALSE(c.calendar.is_school_day(days_from_civil(2026, 9, 5)));    // a Saturday
  EXPECT_FALSE(c.calendar.is_school_day(days_from_civil(2026, 10, 27)));  // half term
  EXPECT_TRUE(c.calendar.is_school_day(days_from_civil(2026, 12, 18)));   // last day, a Friday
  EXPECT_NE(load_with(f, "[review.cover]\nterm_dates = [{start = 2026-10-23, end = 2026-09-03}]\n")
                .find("ends before it starts"),
            std::string::npos);
  EXPECT_NE(
      load_with(f, "[review.cover]\nterm_dates = [{start = \"next monday\", end = 2026-09-03}]\n")
          .find("must be a date"),
      std::string::npos);
  EXPECT_NE(load_with(f, "[review.cover]\nescalate_after_hours = -3\n")
                .find("escalate_after_hours must be an integer from 0"),
            std::string::npos);
}

TEST(Notices, TwoServicesOnOneStoreSendOneDigestPerSlot) {
  Fixture f;
  f.cfg.digest = true;
  f.cfg.digest_minutes = 60;
  ReviewService a(f.cfg, *f.store, *f.users), b(f.cfg, *f.store, *f.users);
  f.put_about_head();
  f.put_about_head();
  // Early in an hour's slot, so that now + 60 is still in it.
  const std::int64_t now = real_now() / 3600 * 3600 + 10;
  std::atomic<int> digests{0};
  std::thread ta([&] { digests += a.send_notices(now).reviewer_notices; });
  std::thread tb([&] { digests += b.send_notices(now).reviewer_notices; });
  ta.join();
  tb.join();
  EXPECT_EQ(digests.load(), 1);
  auto got = f.sink->wait_for(3);
  EXPECT_EQ(count_to(got, "chair@governors.example", "2 messages are waiting"), 1u);
  // A new message in the same slot waits for the next one (a process started every minute
  // does not make a digest every minute).
  f.put_about_head();
  EXPECT_EQ(a.send_notices(now + 60).reviewer_notices, 0);
  EXPECT_EQ(b.send_notices(now + 3600).reviewer_notices, 1);
}

TEST(Notices, QueuedNoticesGoOutOnceFromWhicheverServiceDrains) {
  Fixture f;
  const std::string id = f.put_confidential();
  Notice n;
  n.to = {"ada.teacher@stannes.example"};
  n.subject = "Queued by another process";
  n.body = "queued notice body\n";
  NoticeSettings ns;
  ns.from = "mail-policy@stannes.example";
  EXPECT_TRUE(queue_notice(*f.store, id, "misaddress", n, ns));  // notify/outbox.h
  EXPECT_FALSE(queue_notice(*f.store, id, "misaddress", n, ns));  // each (message, kind) once
  ReviewService a(f.cfg, *f.store, *f.users), b(f.cfg, *f.store, *f.users);
  std::atomic<int> sent{0};
  std::thread ta([&] { sent += a.send_notices(real_now()).outbox; });
  std::thread tb([&] { sent += b.send_notices(real_now()).outbox; });
  ta.join();
  tb.join();
  EXPECT_EQ(sent.load(), 1);
  auto got = f.sink->wait_for(3);
  EXPECT_EQ(count_to(got, "ada.teacher@stannes.example", "queued notice body"), 1u);
}

TEST(Notices, AQueuedNoticeTheMtaRefusedIsSentLater) {
  Fixture broken(false);  // reinjection refused
  const std::string id = broken.put_confidential();
  ASSERT_TRUE(broken.store->queue_notice(id, "misaddress", "", {"ada.teacher@stannes.example"},
                                         "Subject: x\r\n\r\nlater\r\n"));
  auto h = broken.service->send_notices(real_now());
  EXPECT_EQ(h.outbox, 0);
  // The same store behind a working MTA (a second service with the sink's port).
  ReviewConfig c = broken.cfg;
  c.reinject = {"127.0.0.1", broken.sink->port()};
  ReviewService ok(c, *broken.store, *broken.users);
  EXPECT_EQ(ok.send_notices(real_now()).outbox, 1);
  EXPECT_EQ(count_to(broken.sink->wait_for(1), "ada.teacher@stannes.example", "later"), 1u);
}

TEST(SenderLink, SignedForOneMessageAndExpiring) {
  Fixture f;
  std::int64_t clock = real_now();
  ReviewService svc(f.cfg, *f.store, *f.users, [&] { return clock; });
  const std::string id = f.put_confidential(), other = f.put_confidential();
  const std::string token = svc.sender_token(*f.store->get(id));
  EXPECT_EQ(svc.sender_view(token)["id"], id);
  EXPECT_EQ(svc.sender_link(*f.store->get(id)), "http://127.0.0.1:8025/sender#" + token);
  // Another message's id under this signature; a changed expiry; a changed signature.
  std::string swapped = other + token.substr(token.find('.'));
  EXPECT_THROW(svc.sender_view(swapped), LinkRefused);
  std::string later = token;
  later[later.find('.') + 1] = later[later.find('.') + 1] == '9' ? '8' : '9';
  EXPECT_THROW(svc.sender_view(later), LinkRefused);
  std::string bad = token;
  bad.back() = bad.back() == '0' ? '1' : '0';
  EXPECT_THROW(svc.sender_view(bad), LinkRefused);
  EXPECT_THROW(svc.sender_view(""), LinkRefused);
  EXPECT_THROW(svc.sender_view("..."), LinkRefused);
  // Expired after sender_link_days.
  clock = f.store->get(id)->received_at + f.cfg.sender_link_days * 86400LL;
  EXPECT_THROW(svc.sender_view(token), LinkRefused);
  // The sender's notice carries the link.
  clock = real_now();
  svc.send_notices(clock);
  auto got = f.sink->wait_for(1);
  EXPECT_EQ(count_to(got, "ada.teacher@stannes.example", "sender#" + token), 1u);
}

}  // namespace
}  // namespace pm
