// Where `policyctl scan` finds messages: a file holding one message, an mbox (each message
// named FILE#N), a Maildir (cur/ and new/; tmp/ holds deliveries in progress and is not
// read), a directory of message files (its subdirectories only with `recursive`), or "-"
// (standard input: one message, or an mbox when it starts with a From_ line).
//
// Every message is checked to be mail before it is scanned: an empty file, binary data or
// text with no mail header is an error for that path, never a message - so a folder of
// something else cannot come back as a false all-clear. A directory with no message in it
// is an error too.
//
// Memory is bounded by `max_message_bytes` (the engine's [limits] setting): an mbox is
// read as a stream, one message at a time, and a message larger than the limit is handed
// over with only its size (`truncated`), for the engine to judge `unscannable`
// (limit:max_message_bytes) without its bytes.
//
// Errors: problems with one path (unreadable, not a message) go to `on_error`, and the
// walk goes on. Thread safety: none (one walk at a time).
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace pm::cli {

struct MailItem {
  std::string name;        // the path, or PATH#N for the Nth message of an mbox (from 1)
  std::string bytes;       // the message (mbox: From_ line removed, >From unquoted)
  std::size_t size = 0;    // its full size
  bool truncated = false;  // size > max_message_bytes: `bytes` is empty
};

struct WalkOptions {
  bool recursive = false;
  std::size_t max_message_bytes = 64u << 20;
};

// Calls `on_item` for each message under `path`, `on_error(name, why)` for each path that
// cannot be read or is not a message. Returns the number of messages found.
std::size_t walk_mail(const std::string& path, const WalkOptions& opt,
                      const std::function<void(MailItem&)>& on_item,
                      const std::function<void(const std::string&, const std::string&)>& on_error);

// Why `head` (the start of a file) is not a mail message - "empty", "binary data", "no
// mail header" - or "" when it looks like one: header fields from the first line on,
// among them at least one every message has (From, To, Subject, Date, Message-ID, ...).
std::string not_mail_reason(std::string_view head);

}  // namespace pm::cli
