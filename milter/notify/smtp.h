// A minimal SMTP client for the local MTA: released mail goes back to Postfix's loopback
// reinjection listener (which skips this milter) and notices go out the same way.
//
// Plain SMTP on loopback (no TLS, no AUTH: the listener trusts 127.0.0.0/8 only). The
// message bytes are sent as they are, except what SMTP itself requires: bare LF line ends
// become CRLF and lines starting with "." are dot-stuffed. BODY=8BITMIME is declared when
// the message has 8-bit bytes and the server offers it.
//
// Errors: SmtpError carrying the stage and the server's reply (never message content),
// for a refused connection, a timeout or any non-2xx/3xx answer. When smtp_send() throws,
// the MTA has not accepted the message for any recipient it refused; a message is
// accepted only once the final "250" after DATA arrives.
// Thread safety: each call uses its own connection; safe from any thread.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace pm {

class SmtpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SmtpEndpoint {
  std::string host = "127.0.0.1";
  int port = 25;
};

// "host:port" (host may be a name or an IPv4/IPv6 literal in [..]); throws
// std::invalid_argument on a malformed value.
SmtpEndpoint parse_smtp_endpoint(std::string_view spec);

struct SmtpEnvelope {
  std::string from;                 // "" sends MAIL FROM:<> (a bounce-like notice)
  std::vector<std::string> rcpts;   // at least one
};

// Sends one message; returns the server's final reply ("250 2.0.0 Ok: queued as ...").
std::string smtp_send(const SmtpEndpoint& to, const SmtpEnvelope& env, std::string_view data,
                      int timeout_seconds = 30);

}  // namespace pm
