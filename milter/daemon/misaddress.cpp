#include "daemon/misaddress.h"

#include <spdlog/spdlog.h>

#include <thread>

#include "notify/notices.h"
#include "notify/smtp.h"

namespace pm {

Notice misaddress_notice(const NoticeSettings& s, const std::string& sender,
                         const std::string& quarantine_id, const std::vector<Misaddress>& held,
                         const std::vector<std::string>& delivered) {
  Notice n;
  n.to = {sender};
  n.subject = held.size() == 1 ? "Check the address: " + held.front().address + " was not sent to"
                               : "Check the addresses: your message was not sent to all of them";
  std::string b = "Hello,\n\nYour message was NOT delivered to:\n\n";
  for (const auto& h : held)
    b += "  " + h.address + "  - this looks like a typo of the school's domain " + h.looks_like +
         "\n";
  b += "\n";
  if (!delivered.empty()) {
    b += "It was delivered to the other recipients:";
    for (const auto& d : delivered) b += "\n  " + d;
    b += "\n\n";
  }
  b += "If you meant a colleague at " +
       (held.empty() ? std::string("the school") : held.front().looks_like) +
       ", please send the message again to the right address. If the address is right after "
       "all, you need do nothing: the held copy waits for " +
       s.reviewer_title + ", who can release it.\n\n";
  b += "Reference: " + quarantine_id + "\n";
  n.body = b;
  return n;
}

void notify_misaddress(QuarantineBackend& store, const DaemonConfig& cfg, const std::string& school,
                       const std::string& sender, const std::string& quarantine_id,
                       std::vector<Misaddress> held, std::vector<std::string> delivered) {
  if (sender.empty() || held.empty()) return;  // a bounce: nobody to tell
  NoticeSettings ns;
  ns.school_name = school.empty() ? "the school" : school;
  ns.from = cfg.alert_from;
  std::string via = cfg.alert_smtp;
  QuarantineBackend* st = &store;  // lives as long as the daemon's runtime
  std::thread([=] {
    try {
      // A retry of a message already held (same digest) finds the claim taken: once only.
      if (!st->claim_notice(quarantine_id, "sender-held")) return;
      Notice n = misaddress_notice(ns, sender, quarantine_id, held, delivered);
      try {
        smtp_send(parse_smtp_endpoint(via), SmtpEnvelope{ns.from, n.to}, n.render(ns), 30);
        st->audit("policy-milter", "misaddress-notice", quarantine_id,
                  std::to_string(held.size()) + " recipients held");
        spdlog::info("misaddress notice sent quarantine_id={} held={}", quarantine_id, held.size());
      } catch (const std::exception& e) {
        st->unclaim_notice(quarantine_id, "sender-held");
        spdlog::warn("misaddress notice for {} not sent (policy-review will send one): {}",
                     quarantine_id, e.what());
      }
    } catch (const std::exception& e) {
      spdlog::warn("misaddress notice for {}: {}", quarantine_id, e.what());
    }
  }).detach();
}

}  // namespace pm
