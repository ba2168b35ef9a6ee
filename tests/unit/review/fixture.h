// Shared set-up for the review tests: a real quarantine store and accounts file in a
// temporary directory, a real SMTP server standing in for the reinjection listener
// (tests/unit/notify/smtp_sink.h), and held messages with hand-made verdicts in the
// engine's JSON form (findings with byte offsets into decoded segments).
#pragma once

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "quarantine/store.h"
#include "review/accounts.h"
#include "review/config.h"
#include "review/service.h"
#include "smtp_sink.h"

namespace pm::test {

// Fictional content; the NHS number is the valid example from POLICY.md.
inline const std::string kBody = "Dear Mr Parent,\nAm\xc3\xa9lie's NHS number is 943 476 5919 for the trip form.\n";

inline std::string verdict(const std::string& subject, const std::string& body, const std::string& evidence,
                           const std::string& rule, const std::string& category,
                           const std::vector<std::pair<std::string, std::string>>& rcpts) {
  nlohmann::json v;
  v["action"] = "quarantine";
  v["subject"] = subject;
  v["message_id"] = "<fixture@stannes.example>";
  v["categories"] = {category};
  v["recipients"] = nlohmann::json::array();
  for (const auto& [a, c] : rcpts) v["recipients"].push_back({{"address", a}, {"class", c}, {"action", "quarantine"}});
  v["notes"] = nlohmann::json::array();
  std::size_t at = body.find(evidence);
  v["findings"] = {{{"rule", rule}, {"category", category}, {"clause", "must not disclose personal data"},
                    {"origin", "body/1 text/plain"}, {"start", at}, {"end", at + evidence.size()},
                    {"evidence", evidence}}};
  v["attachments"] = nlohmann::json::array();
  v["segments"] = {{{"origin", "subject"}, {"kind", "header"}, {"text", subject}},
                   {{"origin", "body/1 text/plain"}, {"kind", "body"}, {"text", body}}};
  return v.dump();
}

struct Fixture {
  std::filesystem::path dir;
  std::unique_ptr<QuarantineStore> store;
  std::unique_ptr<UserStore> users;
  std::unique_ptr<SmtpSink> sink;
  std::unique_ptr<ReviewService> service;
  ReviewConfig cfg;

  explicit Fixture(bool reinject_works = true) {
    dir = std::filesystem::temp_directory_path() /
          ("pm-review-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()));
    store = std::make_unique<QuarantineStore>(dir / "quarantine");
    users = std::make_unique<UserStore>(dir / "users.sqlite");
    sink = std::make_unique<SmtpSink>();
    cfg.engine.school_name = "St Anne's C of E Primary School";
    cfg.engine.domains.staff = {"stannes.example"};
    cfg.engine.domains.pupil = {"pupils.stannes.example"};
    cfg.engine.domains.partner = {"somerset-la.example"};
    cfg.engine.domains.webmail = {"gmail.com"};
    cfg.reinject = {"127.0.0.1", reinject_works ? sink->port() : closed_port()};
    cfg.notice_from = "mail-policy@stannes.example";
    cfg.public_url = "http://127.0.0.1:8025/";
    ReviewRoute about_head;
    about_head.name = "complaint about the head teacher";
    about_head.categories = {"disrepute"};
    about_head.terms = {"head teacher"};
    about_head.reviewers = {"chair"};
    about_head.exclude = {"head.teacher"};
    cfg.routes = {about_head};
    add_user("head.teacher", Role::reviewer, "head@stannes.example");
    add_user("chair", Role::reviewer, "chair@governors.example");
    add_user("it.admin", Role::admin, "");
    service = std::make_unique<ReviewService>(cfg, *store, *users);
  }
  ~Fixture() {
    service.reset();
    store.reset();
    users.reset();
    sink.reset();
    std::filesystem::remove_all(dir);
  }
  void add_user(const std::string& login, Role role, const std::string& email, const std::string& totp = "") {
    Account a;
    a.login = login;
    a.role = role;
    a.email = email;
    a.totp_secret = totp;
    users->add(a, "correct horse battery");
  }
  // CRLF throughout, as the milter stores what Postfix passed on; the lone "." line
  // checks dot-stuffing on the way back.
  static std::string raw_message() {
    std::string body;
    for (char c : kBody) body += c == '\n' ? std::string("\r\n") : std::string(1, c);
    return "From: Ada Teacher <ada.teacher@stannes.example>\r\nTo: parent.one@gmail.com\r\n"
           "Subject: Trip list\r\nMessage-ID: <fixture@stannes.example>\r\n\r\n" + body + ".\r\n";
  }
  // A held message: confidential data to a parent's Gmail, a typo'd staff address and a partner.
  std::string put_confidential() {
    QuarantineInput in;
    in.sender = "ada.teacher@stannes.example";
    in.recipients = {"parent.one@gmail.com", "office@stannes.exampel", "referrals@somerset-la.example"};
    in.held_recipients = in.recipients;
    in.subject = "Trip list";
    in.categories = {"confidential"};
    in.rules = {"confidential.nhs-number"};
    in.action = "quarantine";
    in.verdict_json = verdict("Trip list", kBody, "943 476 5919", "confidential.nhs-number", "confidential",
                              {{"parent.one@gmail.com", "personal-webmail"}, {"office@stannes.exampel", "lookalike"},
                               {"referrals@somerset-la.example", "partner"}});
    return store->put(raw_message(), in);
  }
  // Disparages the head teacher, to a newspaper: routed to the chair of governors.
  std::string put_about_head() {
    const std::string body = "The head teacher is useless and everyone knows it.\n";
    QuarantineInput in;
    in.sender = "ben.teacher@stannes.example";
    in.recipients = {"news@gazette.example"};
    in.held_recipients = in.recipients;
    in.subject = "A story for you";
    in.categories = {"disrepute"};
    in.rules = {"disrepute.leadership"};
    in.action = "quarantine";
    in.verdict_json = verdict("A story for you", body, "useless", "disrepute.leadership", "disrepute",
                              {{"news@gazette.example", "external"}});
    return store->put("Subject: A story for you\r\n\r\n" + body, in);
  }
  Account account(const std::string& login) { return *users->find(login); }
};

}  // namespace pm::test
