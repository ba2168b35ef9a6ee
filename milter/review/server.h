// ReviewServer: policy-review's HTTP front end (cpp-httplib): the JSON API and the page.
//
// API (JSON; every POST needs Content-Type: application/json; every POST but sign-in needs
// the session cookie and the X-CSRF-Token header of that session):
//   POST /api/login {login,password,totp?}   -> sets the session cookie; {login,role,csrf}
//   POST /api/logout
//   GET  /api/session                         -> {login,role,csrf}
//   GET  /api/messages?status=&category=&sender=   held list in the account's scope
//   GET  /api/messages/ID                     -> one message (audited "viewed")
//   POST /api/messages/ID/release {recipients?:[...],note?}   502 if reinjection failed
//   POST /api/messages/ID/refuse {note?}
//   POST /api/messages/ID/not-a-violation {rule,note?}
//   POST /api/messages/ID/delete {note?}      admin
//   GET  /api/audit?message=ID                the audit log
//   GET  /api/dismissals                      admin: "not a violation" records
//   GET  /api/users                           admin: accounts (no hashes, no secrets)
// Answers: 401 no/expired session, 403 wrong role or CSRF token, 404 unknown or out of
// scope, 409 decision not allowed now, 429 sign-in throttled, 502 reinjection failed.
// Pages: /, /app.js, /app.css - built into the binary (no CDN, works offline).
// Every answer carries a strict Content-Security-Policy (scripts only from this origin, no
// inline script, no frames), nosniff, no-referrer and no-store; the page only ever puts
// message content into the document as text.
// Thread safety: httplib serves from a thread pool; everything it calls is thread-safe.
#pragma once

#include <memory>
#include <string>

#include "review/accounts.h"
#include "review/service.h"
#include "review/sessions.h"

namespace pm {

class ReviewServer {
 public:
  ReviewServer(ReviewService& service, UserStore& users);
  ~ReviewServer();
  ReviewServer(const ReviewServer&) = delete;
  ReviewServer& operator=(const ReviewServer&) = delete;

  // Binds (port 0: any free port); returns the port, or -1 when it cannot bind.
  int bind(const std::string& host, int port);
  void run();   // serves until stop()
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pm
