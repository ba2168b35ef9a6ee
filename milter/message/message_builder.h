// MessageBuilder: reassembles the raw RFC 5322 bytes of a message from the pieces a milter
// receives (header by header, end of headers, body chunks, end of message), so the daemon
// can hand Engine::scan the same bytes `policyctl scan FILE` would read.
//
//   MessageBuilder b({.spill_bytes = 1 << 20, .spill_dir = "/tmp"});
//   b.header("Subject", "Hello");   // value as the MTA gives it (folds keep their "\n\t")
//   b.end_of_headers();
//   b.body(chunk);                  // any number of chunks, CRLF line ends as sent
//   std::string_view raw = b.finish();   // valid until the builder is reset or destroyed
//
// Lines are written with CRLF; a bare LF inside a folded header value becomes CRLF. Past
// `spill_bytes` the bytes go to an unlinked temporary file in `spill_dir` (memory stays
// bounded while a large message arrives); finish() then maps that file read-only.
// No libmilter here: the daemon adapts its callbacks onto these calls.
//
// Errors: std::system_error when the spill file cannot be created, written or mapped
// (the daemon answers its on_error action). std::logic_error on calls out of order.
// Thread safety: one builder per message; not shared between threads.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace pm {

struct BuilderOptions {
  std::size_t spill_bytes = 1u << 20;  // keep at most this many bytes in memory
  std::filesystem::path spill_dir = "/tmp";
};

class MessageBuilder {
 public:
  explicit MessageBuilder(BuilderOptions options = {});
  ~MessageBuilder();
  MessageBuilder(const MessageBuilder&) = delete;
  MessageBuilder& operator=(const MessageBuilder&) = delete;
  MessageBuilder(MessageBuilder&& other) noexcept;
  MessageBuilder& operator=(MessageBuilder&& other) noexcept;

  void header(std::string_view name, std::string_view value);
  void end_of_headers();
  void body(std::string_view chunk);
  // Ends the message and returns all of its bytes. Calling it again returns the same view.
  std::string_view finish();

  // Bytes received so far (headers as rebuilt + body).
  std::size_t size() const { return size_; }
  bool spilled() const { return fd_ >= 0; }
  // Forgets the message (abort, or the next message on the same connection).
  void reset();

 private:
  void append(std::string_view bytes);
  void spill();
  void unmap() noexcept;

  BuilderOptions options_;
  std::string memory_;
  int fd_ = -1;             // spill file (already unlinked), or -1
  void* map_ = nullptr;     // finish()'s mapping of the spill file
  std::size_t size_ = 0;
  bool headers_done_ = false;
  bool finished_ = false;
};

}  // namespace pm
