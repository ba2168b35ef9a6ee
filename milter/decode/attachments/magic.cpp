// A part's type from its bytes (libmagic), not from the name or the type the sender's client
// declared (issue 11: a class list in a .tar.gz declared application/octet-stream went out
// unread).
//
// A magic_t is not thread-safe and loading the database costs about a millisecond, so
// handles are loaded once and lent out from a small pool: a scanning thread takes one, or
// loads a new one when all are lent, and gives it back. Only the first 256 KiB are
// examined: enough for every signature the readers need (ISO 9660's sits at 32 KiB) and for
// libmagic's text tests, and a 30 MB attachment costs the same as a small one.
#include <magic.h>

#include <mutex>
#include <stdexcept>
#include <vector>

#include "decode/attachments/internal.h"

namespace pm::attachments::detail {

namespace {

constexpr std::size_t kMagicBytes = 256u << 10;

class MagicPool {
 public:
  ~MagicPool() {
    for (magic_t m : free_) magic_close(m);
  }
  magic_t take() {
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        magic_t m = free_.back();
        free_.pop_back();
        return m;
      }
    }
    // Compressed contents are the archive reader's business; the outer type is what counts.
    magic_t m = magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS | MAGIC_ERROR);
    if (m == nullptr) throw std::bad_alloc();
    if (magic_load(m, nullptr) != 0) {
      magic_close(m);
      throw std::runtime_error("libmagic: cannot load its database");
    }
    return m;
  }
  void give(magic_t m) {
    std::lock_guard lock(mutex_);
    free_.push_back(m);
  }

 private:
  std::mutex mutex_;
  std::vector<magic_t> free_;
};

MagicPool& pool() {
  static MagicPool p;
  return p;
}

struct Lent {
  magic_t m = pool().take();
  ~Lent() { pool().give(m); }
};

}  // namespace

std::string magic_mime(std::string_view bytes) {
  if (bytes.empty()) return "application/x-empty";
  Lent lent;
  const char* t = magic_buffer(lent.m, bytes.data(), std::min(bytes.size(), kMagicBytes));
  return t ? std::string(t) : std::string("application/octet-stream");
}

}  // namespace pm::attachments::detail
