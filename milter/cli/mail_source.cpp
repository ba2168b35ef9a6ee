#include "cli/mail_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "util/strings.h"

namespace pm::cli {
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kChunk = 64u << 10;
constexpr std::size_t kSniff = 64u << 10;  // the header must start within this

struct Fd {
  int fd;
  ~Fd() {
    if (fd > STDIN_FILENO) ::close(fd);
  }
};

// Reads up to `want` bytes (fewer at end of file); -1 on error (errno set).
ssize_t read_some(int fd, char* buf, std::size_t want) {
  std::size_t have = 0;
  while (have < want) {
    ssize_t n = ::read(fd, buf + have, want - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    have += static_cast<std::size_t>(n);
  }
  return static_cast<ssize_t>(have);
}

bool is_header_name_char(unsigned char c) {
  return c >= 33 && c <= 126 && c != ':';
}

// A header field line: NAME ":" (RFC 5322 2.2; a space before the colon is tolerated, as
// old mailers wrote it).
bool header_line(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && is_header_name_char(static_cast<unsigned char>(line[i]))) ++i;
  if (i == 0) return false;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  return i < line.size() && line[i] == ':';
}

// One mbox, streamed: a message starts at a "From " line at the start of the file or after
// an empty line (mboxo/mboxrd); ">From " lines (any number of '>') lose one '>'.
class MboxReader {
 public:
  MboxReader(int fd, std::string name, const WalkOptions& opt,
             const std::function<void(MailItem&)>& on_item,
             const std::function<void(const std::string&, const std::string&)>& on_error)
      : fd_(fd), name_(std::move(name)), opt_(opt), on_item_(on_item), on_error_(on_error) {}

  // Returns the number of messages; false in `ok` on a read error.
  std::size_t run(std::string_view already_read, bool& ok) {
    feed(already_read);
    std::vector<char> buf(kChunk);
    for (;;) {
      ssize_t n = read_some(fd_, buf.data(), buf.size());
      if (n < 0) {
        on_error_(name_, std::strerror(errno));
        ok = false;
        break;
      }
      if (n == 0) break;
      feed(std::string_view(buf.data(), static_cast<std::size_t>(n)));
    }
    if (!line_.empty() || line_len_ > 0) end_line();
    emit();
    return count_;
  }

 private:
  void feed(std::string_view data) {
    while (!data.empty()) {
      auto nl = data.find('\n');
      std::string_view part = data.substr(0, nl == std::string_view::npos ? data.size() : nl + 1);
      // A line is kept whole up to the message limit; past that only its start matters.
      if (line_.size() + part.size() <= opt_.max_message_bytes + 8)
        line_.append(part);
      else if (line_.size() < 8)
        line_.append(part.substr(0, 8 - line_.size()));
      line_len_ += part.size();
      data.remove_prefix(part.size());
      if (nl != std::string_view::npos) end_line();
    }
  }

  void end_line() {
    std::string_view l(line_);
    const bool separator = l.starts_with("From ") && (first_line_ || prev_blank_);
    first_line_ = false;
    if (separator) {
      emit();
      in_message_ = true;
    } else if (in_message_) {
      std::size_t skip = 0;
      std::size_t q = l.find_first_not_of('>');
      if (q != std::string_view::npos && q > 0 && l.substr(q).starts_with("From ")) skip = 1;
      const std::size_t len = line_len_ - skip;
      size_ += len;
      if (!truncated_ && size_ <= opt_.max_message_bytes) {
        msg_.append(l.substr(skip));
      } else {
        truncated_ = true;
        std::string().swap(msg_);  // give the memory back now
      }
    }
    prev_blank_ = l == "\n" || l == "\r\n";
    line_.clear();
    line_len_ = 0;
  }

  void emit() {
    if (!in_message_) return;
    ++count_;
    // The empty line before the next From_ line belongs to the separator.
    if (msg_.ends_with("\r\n\r\n"))
      msg_.resize(msg_.size() - 2);
    else if (msg_.ends_with("\n\n"))
      msg_.resize(msg_.size() - 1);
    MailItem item;
    item.name = name_ + "#" + std::to_string(count_);
    item.size = size_;
    item.truncated = truncated_;
    if (!truncated_) {
      if (std::string why = not_mail_reason(msg_); !why.empty()) {
        on_error_(item.name, "not a mail message (" + why + ")");
        reset();
        return;
      }
      item.bytes = std::move(msg_);
    }
    on_item_(item);
    reset();
  }

  void reset() {
    msg_.clear();
    size_ = 0;
    truncated_ = false;
  }

  int fd_;
  std::string name_;
  const WalkOptions& opt_;
  const std::function<void(MailItem&)>& on_item_;
  const std::function<void(const std::string&, const std::string&)>& on_error_;
  std::string line_, msg_;
  std::size_t line_len_ = 0, size_ = 0, count_ = 0;
  bool first_line_ = true, prev_blank_ = false, in_message_ = false, truncated_ = false;
};

struct Walker {
  const WalkOptions& opt;
  const std::function<void(MailItem&)>& on_item;
  const std::function<void(const std::string&, const std::string&)>& on_error;
  std::size_t found = 0;

  // One file: an mbox (first line "From ") or a single message.
  void file(const std::string& path) {
    Fd fd{path == "-" ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (fd.fd < 0) return on_error(path, std::strerror(errno));
    std::string head(kSniff, '\0');
    ssize_t n = read_some(fd.fd, head.data(), head.size());
    if (n < 0) return on_error(path, std::strerror(errno));
    head.resize(static_cast<std::size_t>(n));
    if (head.starts_with("From ")) {
      bool ok = true;
      const std::function<void(MailItem&)> counted = [&](MailItem& m) {
        ++found;
        on_item(m);
      };
      MboxReader r(fd.fd, path, opt, counted, on_error);
      if (r.run(head, ok) == 0 && ok) on_error(path, "an mbox with no message");
      return;
    }
    if (std::string why = not_mail_reason(head); !why.empty())
      return on_error(path, "not a mail message (" + why + ")");
    MailItem item;
    item.name = path;
    item.size = head.size();
    item.bytes = std::move(head);
    // The rest of the file, up to the limit; past it only the size is counted.
    std::vector<char> buf(kChunk);
    for (;;) {
      ssize_t r = read_some(fd.fd, buf.data(), buf.size());
      if (r < 0) return on_error(path, std::strerror(errno));
      if (r == 0) break;
      item.size += static_cast<std::size_t>(r);
      if (item.size > opt.max_message_bytes) {
        item.truncated = true;
        std::string().swap(item.bytes);
      } else {
        item.bytes.append(buf.data(), static_cast<std::size_t>(r));
      }
    }
    ++found;
    on_item(item);
  }

  static bool is_maildir(const fs::path& p) {
    std::error_code ec;
    return fs::is_directory(p / "cur", ec) && fs::is_directory(p / "new", ec);
  }

  // Sorted entries of a directory (a stable order for the results).
  std::vector<fs::directory_entry> entries(const fs::path& dir) {
    std::vector<fs::directory_entry> out;
    std::error_code ec;
    fs::directory_iterator it(dir, ec), end;
    if (ec) {
      on_error(dir.string(), ec.message());
      return out;
    }
    for (; it != end; it.increment(ec)) {
      if (ec) break;
      out.push_back(*it);
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return a.path().filename() < b.path().filename();
    });
    return out;
  }

  void maildir(const fs::path& dir) {
    for (const char* sub : {"cur", "new"})
      for (const auto& e : entries(dir / sub)) {
        std::error_code ec;
        if (e.path().filename().string().starts_with(".")) continue;
        if (e.is_regular_file(ec)) file(e.path().string());
      }
    if (!opt.recursive) return;
    for (const auto& e : entries(dir)) {  // Maildir++ folders: .Sent, .Archive.2024, ...
      std::error_code ec;
      std::string n = e.path().filename().string();
      if (n.size() > 1 && n[0] == '.' && n != ".." && !e.is_symlink(ec) && e.is_directory(ec) &&
          is_maildir(e.path()))
        maildir(e.path());
    }
  }

  void directory(const fs::path& dir) {
    if (is_maildir(dir)) return maildir(dir);
    for (const auto& e : entries(dir)) {
      std::error_code ec;
      if (e.path().filename().string().starts_with(".")) continue;  // hidden: not mail
      if (e.is_directory(ec)) {
        // Symlinked directories are not followed (no loops); subdirectories only when asked.
        if (opt.recursive && !e.is_symlink(ec)) directory(e.path());
      } else if (e.is_regular_file(ec)) {
        file(e.path().string());
      }
    }
  }

  void path(const std::string& p) {
    std::error_code ec;
    if (p != "-" && fs::is_directory(p, ec)) {
      std::size_t before = found;
      directory(p);
      if (found == before)
        on_error(p, opt.recursive || is_maildir(p)
                        ? "no mail message in this directory"
                        : "no mail message in this directory (subdirectories are read with "
                          "--recursive)");
      return;
    }
    file(p);
  }
};

}  // namespace

std::string not_mail_reason(std::string_view head) {
  if (head.empty()) return "empty";
  std::string_view probe = head.substr(0, 8192);
  if (probe.find('\0') != std::string_view::npos) return "binary data";
  // The header block: from the first line to the first empty line (or what was read).
  std::size_t pos = 0;
  bool first = true, known = false;
  static constexpr std::array<std::string_view, 14> kFields = {
      "from",   "to",         "cc",           "bcc",         "subject",
      "date",   "message-id", "received",     "return-path", "mime-version",
      "sender", "reply-to",   "delivered-to", "in-reply-to"};
  while (pos < head.size()) {
    auto nl = head.find('\n', pos);
    std::string_view line =
        head.substr(pos, nl == std::string_view::npos ? head.size() - pos : nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // end of the header
    if (line[0] == ' ' || line[0] == '\t') {
      if (first) return "no mail header";
    } else {
      if (!header_line(line)) return "no mail header";
      std::string name = to_lower_ascii(trim(line.substr(0, line.find(':'))));
      if (std::find(kFields.begin(), kFields.end(), name) != kFields.end()) known = true;
    }
    first = false;
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return known ? "" : "no mail header";
}

std::size_t walk_mail(const std::string& path, const WalkOptions& opt,
                      const std::function<void(MailItem&)>& on_item,
                      const std::function<void(const std::string&, const std::string&)>& on_error) {
  Walker w{opt, on_item, on_error};
  w.path(path);
  return w.found;
}

}  // namespace pm::cli
