#include "notify/notices.h"

#include <sys/random.h>

#include <algorithm>
#include <cctype>
#include <ctime>

namespace pm {

namespace {

std::string rfc2822_date(std::time_t t) {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

std::string human_time(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%d %b %Y %H:%M UTC", &tm);
  return buf;
}

bool ascii(const std::string& s) {
  for (unsigned char c : s)
    if (c >= 0x80 || c < 0x20) return false;
  return true;
}

// RFC 2047 B-encoding for a non-ASCII header value (one encoded word per ~45 bytes,
// cut on UTF-8 character boundaries).
std::string encode_header(const std::string& v) {
  if (ascii(v)) return v;
  static const char* b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  while (i < v.size()) {
    std::size_t n = std::min<std::size_t>(45, v.size() - i);
    while (i + n < v.size() && (static_cast<unsigned char>(v[i + n]) & 0xC0) == 0x80) --n;
    std::string chunk = v.substr(i, n), enc;
    for (std::size_t j = 0; j < chunk.size(); j += 3) {
      unsigned a = static_cast<unsigned char>(chunk[j]);
      unsigned b = j + 1 < chunk.size() ? static_cast<unsigned char>(chunk[j + 1]) : 0;
      unsigned c = j + 2 < chunk.size() ? static_cast<unsigned char>(chunk[j + 2]) : 0;
      unsigned w = (a << 16) | (b << 8) | c;
      enc += b64[(w >> 18) & 63];
      enc += b64[(w >> 12) & 63];
      enc += j + 1 < chunk.size() ? b64[(w >> 6) & 63] : '=';
      enc += j + 2 < chunk.size() ? b64[w & 63] : '=';
    }
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + enc + "?=";
    i += n;
  }
  return out;
}

// Header values we build may include a sender's subject: no line breaks may survive.
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\r' || c == '\n' || c == '\t') c = ' ';
  return s;
}

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::string message_id_host(const std::string& from) {
  auto at = from.find('@');
  return at == std::string::npos ? "localhost" : from.substr(at + 1);
}

std::string what_message(const QuarantineItem& item, bool quote_subject) {
  std::string s = "your message of " + human_time(item.received_at);
  if (quote_subject && !item.subject.empty()) s += " with the subject \"" + one_line(item.subject) + "\"";
  s += ", to " + join(item.recipients);
  return s;
}

}  // namespace

std::string Notice::render(const NoticeSettings& s) const {
  unsigned char rnd[8] = {};
  (void)::getrandom(rnd, sizeof rnd, 0);
  std::string mid;
  static const char* hex = "0123456789abcdef";
  for (unsigned char c : rnd) {
    mid += hex[c >> 4];
    mid += hex[c & 15];
  }
  std::string h;
  h += "Date: " + rfc2822_date(std::time(nullptr)) + "\r\n";
  h += "From: " + encode_header("Mail policy (" + s.school_name + ")") + " <" + s.from + ">\r\n";
  h += "To: " + join(to) + "\r\n";
  h += "Subject: " + encode_header(one_line(subject)) + "\r\n";
  h += "Message-ID: <" + mid + ".notice@" + message_id_host(s.from) + ">\r\n";
  h += "Auto-Submitted: auto-generated\r\n";
  h += "MIME-Version: 1.0\r\n";
  h += "Content-Type: text/plain; charset=UTF-8\r\n";
  h += "Content-Transfer-Encoding: 8bit\r\n\r\n";
  std::string b;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\n' && (i == 0 || body[i - 1] != '\r')) b += '\r';
    b += body[i];
  }
  if (b.empty() || b.back() != '\n') b += "\r\n";
  return h + b;
}

Notice sender_held_notice(const NoticeSettings& s, const QuarantineItem& item,
                          const std::vector<std::string>& clauses, bool quote_subject,
                          const std::string& link, std::int64_t link_expiry) {
  Notice n;
  n.to = {item.sender};
  n.subject = "Your message is waiting for review";
  std::string b;
  b += "Hello,\n\n";
  b += "The school's mail filter has held " + what_message(item, quote_subject) + ".\n";
  b += "It has not been delivered yet. It appears to go against the " + s.school_name +
       " policy:\n\n";
  if (clauses.empty()) b += "  - (the policy on sending school information outside the school)\n";
  for (const auto& c : clauses) b += "  - \"" + one_line(c) + "\"\n";
  b += "\n" + std::string(1, static_cast<char>(std::toupper(s.reviewer_title[0]))) +
       s.reviewer_title.substr(1) +
       " will review it and either release it or return it to you with a note. You will get "
       "another message when they have decided.\n\n";
  b += "If this was a mistake (a wrong address, an attachment you did not mean to send), you "
       "do not need to do anything; you can simply send a corrected message.\n\n";
  if (!link.empty())
    b += "On this page you can see where your message stands, withdraw it, or add a reason "
         "for the reviewer (for example \"a lawful referral the local authority asked for\"); "
         "the decision stays with the reviewer. The link is for this message only and works "
         "until " +
         human_time(link_expiry) + ". Do not forward it.\n\n  " + link + "\n\n";
  b += "Reference: " + item.id + "\n";
  n.body = b;
  return n;
}

Notice reviewer_alert(const NoticeSettings& s, const std::vector<std::string>& reviewers,
                      const std::vector<HeldSummary>& held, bool urgent, std::int64_t now) {
  Notice n;
  n.to = reviewers;
  if (urgent)
    n.subject = "URGENT: held mail to a partner organisation needs review";
  else if (held.size() == 1)
    n.subject = "A message is waiting for your review";
  else
    n.subject = std::to_string(held.size()) + " messages are waiting for your review";
  std::string b;
  b += "Hello,\n\n";
  if (urgent)
    b += "Mail to a partner organisation (often a safeguarding referral) has been held. "
         "Please review it as soon as you can: it must not wait.\n\n";
  else
    b += "The mail filter is holding mail for your review:\n\n";
  for (const auto& h : held) {
    const auto& it = h.item;
    long hours = static_cast<long>((now - it.received_at) / 3600);
    b += "  * " + it.id + "\n";
    b += "    from " + it.sender + ", held " +
         (hours < 1 ? std::string("less than an hour ago") : std::to_string(hours) + " h ago") + "\n";
    b += "    categories: " + join(it.categories) + "\n";
    for (const auto& r : h.recipient_notes) b += "    to " + r + "\n";
  }
  b += "\n";
  if (!s.review_url.empty()) b += "Review it here: " + s.review_url + "\n\n";
  b += "This notice does not contain the message itself; sign in to the review page to see it.\n";
  n.body = b;
  return n;
}

Notice sender_outcome_notice(const NoticeSettings& s, const QuarantineItem& item, Outcome outcome,
                             const std::vector<std::string>& released_to, const std::string& note,
                             bool quote_subject) {
  Notice n;
  n.to = {item.sender};
  std::string b = "Hello,\n\n";
  std::string what = what_message(item, quote_subject);
  switch (outcome) {
    case Outcome::released:
      n.subject = "Your held message has been delivered";
      b += "After review, " + what + " has been released and delivered to " + join(released_to) + ".\n";
      break;
    case Outcome::released_partial:
      n.subject = "Your held message has been delivered to some recipients";
      b += "After review, " + what + " has been released to " + join(released_to) +
           " only. The other recipients are still held for review.\n";
      break;
    case Outcome::refused:
      n.subject = "Your held message was not sent";
      b += "After review, " + what + " was not sent and has been deleted.\n";
      break;
    case Outcome::expired:
      n.subject = "Your held message was not sent";
      b += "Nobody could review " + what +
           " within the time the school allows, so it was not sent and has been deleted.\n";
      break;
  }
  if (!note.empty()) b += "\nA note from the reviewer:\n\n  " + note + "\n";
  b += "\nReference: " + item.id + "\n";
  n.body = b;
  return n;
}

}  // namespace pm
