#include "message/message_builder.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace pm {
namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

MessageBuilder::MessageBuilder(BuilderOptions options) : options_(std::move(options)) {}

MessageBuilder::~MessageBuilder() { reset(); }

MessageBuilder::MessageBuilder(MessageBuilder&& other) noexcept
    : options_(std::move(other.options_)),
      memory_(std::move(other.memory_)),
      fd_(std::exchange(other.fd_, -1)),
      map_(std::exchange(other.map_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      headers_done_(std::exchange(other.headers_done_, false)),
      finished_(std::exchange(other.finished_, false)) {}

MessageBuilder& MessageBuilder::operator=(MessageBuilder&& other) noexcept {
  if (this != &other) {
    reset();
    options_ = std::move(other.options_);
    memory_ = std::move(other.memory_);
    fd_ = std::exchange(other.fd_, -1);
    map_ = std::exchange(other.map_, nullptr);
    size_ = std::exchange(other.size_, 0);
    headers_done_ = std::exchange(other.headers_done_, false);
    finished_ = std::exchange(other.finished_, false);
  }
  return *this;
}

void MessageBuilder::reset() {
  unmap();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  memory_.clear();
  memory_.shrink_to_fit();
  size_ = 0;
  headers_done_ = false;
  finished_ = false;
}

void MessageBuilder::unmap() noexcept {
  if (map_ != nullptr) ::munmap(map_, size_ == 0 ? 1 : size_);
  map_ = nullptr;
}

void MessageBuilder::header(std::string_view name, std::string_view value) {
  if (headers_done_ || finished_) throw std::logic_error("MessageBuilder: header after end of headers");
  std::string line;
  line.reserve(name.size() + value.size() + 4);
  line.append(name);
  line.append(": ");
  // Folded values arrive with bare LF (Postfix) or CRLF (Sendmail) between lines.
  for (std::size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '\r' && i + 1 < value.size() && value[i + 1] == '\n') continue;
    if (c == '\n') line.append("\r\n");
    else line.push_back(c);
  }
  line.append("\r\n");
  append(line);
}

void MessageBuilder::end_of_headers() {
  if (finished_) throw std::logic_error("MessageBuilder: end of headers after finish");
  if (headers_done_) return;
  headers_done_ = true;
  append("\r\n");
}

void MessageBuilder::body(std::string_view chunk) {
  if (finished_) throw std::logic_error("MessageBuilder: body after finish");
  if (!headers_done_) end_of_headers();
  append(chunk);
}

void MessageBuilder::append(std::string_view bytes) {
  if (bytes.empty()) return;
  if (fd_ < 0 && memory_.size() + bytes.size() > options_.spill_bytes) spill();
  if (fd_ >= 0) {
    const char* p = bytes.data();
    std::size_t left = bytes.size();
    while (left > 0) {
      ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_errno("message spill write");
      }
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  } else {
    memory_.append(bytes);
  }
  size_ += bytes.size();
}

void MessageBuilder::spill() {
  // O_TMPFILE: the file has no name, so nothing is left behind if the daemon dies.
  fd_ = ::open(options_.spill_dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    std::string templ = (options_.spill_dir / "policy-milter-XXXXXX").string();
    fd_ = ::mkostemp(templ.data(), O_CLOEXEC);
    if (fd_ < 0) throw_errno("message spill file in " + options_.spill_dir.string());
    ::unlink(templ.c_str());
  }
  std::string held = std::move(memory_);
  memory_.clear();
  memory_.shrink_to_fit();
  std::size_t before = size_;
  size_ = 0;
  append(held);
  size_ = before;
}

std::string_view MessageBuilder::finish() {
  if (!headers_done_) end_of_headers();
  finished_ = true;
  if (fd_ < 0) return memory_;
  if (map_ == nullptr) {
    if (size_ == 0) return {};
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
    if (p == MAP_FAILED) throw_errno("message spill mmap");
    map_ = p;
  }
  return {static_cast<const char*>(map_), size_};
}

}  // namespace pm
