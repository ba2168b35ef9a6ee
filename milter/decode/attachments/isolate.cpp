// Runs one extractor in a forked child process with its own memory and time limits
// (issue 11: a crash inside a document library must not take the daemon down).
//
// The child inherits the attachment's bytes (copy-on-write), runs the reader into a Job of
// its own, and writes what it found - segments and unscannable entries - back over a pipe in
// a small length-prefixed form; then it _exit()s without running any destructor of the
// parent's state. The parent appends what came back through its own Job, so the decoded-byte
// limit and the once-per-reason rule hold as if the reader had run in-process.
//
// Limits: RLIMIT_AS = the child's size at fork + extractor_memory_bytes (a BIFF file that
// declares 65,536 x 256 cells on every sheet makes libfreexl allocate gigabytes),
// RLIMIT_CORE = 0, and a wall-clock timeout (extractor_timeout_ms) after which it is killed.
// A child that dies by a signal, exits non-zero or is killed is `unscannable` with the reason
// extractor-crash / extractor-timeout / limit:extractor_memory_bytes for that attachment only.
//
// Why fork and not exec a helper: no second binary to install and find, and the child starts
// with the libraries already loaded. Cost with the engine loaded (72 MB RSS): about 0.6 ms of
// the parent's CPU and 3 ms wall per child (bench/README.md) - 5-25x a whole typical scan,
// which is why only the legacy-Office readers are isolated.
// The child only runs the reader and exits, so the fork-in-a-threaded-process rules are kept
// by what it calls: glibc malloc is fork-safe; a GLib lock held by another thread at the
// instant of the fork could hang the child, which the timeout then turns into unscannable.
#include "decode/attachments/isolate.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace pm::attachments::detail {

namespace {

void put_u32(std::string& out, std::uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);
  out.append(b, 4);
}

void put_str(std::string& out, const std::string& s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out += s;
}

struct Reader {
  std::string_view in;
  bool get_u32(std::uint32_t& v) {
    if (in.size() < 4) return false;
    std::memcpy(&v, in.data(), 4);
    in.remove_prefix(4);
    return true;
  }
  bool get_str(std::string& s) {
    std::uint32_t n = 0;
    if (!get_u32(n) || in.size() < n) return false;
    s.assign(in.data(), n);
    in.remove_prefix(n);
    return true;
  }
};

// Virtual size of this process now (the child's inherited mappings), from /proc.
std::size_t current_vsize() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0;
  statm >> pages;
  return pages * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

[[noreturn]] void child_main(int fd, Job& parent, const std::function<void(Job&)>& reader) {
  // Library chatter (wvWare prints diagnostics) must not reach the daemon's log.
  int devnull = ::open("/dev/null", O_RDWR);
  if (devnull >= 0) {
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
  }
  const Limits& lim = parent.limits();
  rlimit core{0, 0};
  ::setrlimit(RLIMIT_CORE, &core);
  rlim_t as = static_cast<rlim_t>(current_vsize() + lim.extractor_memory_bytes);
  rlimit mem{as, as};
  ::setrlimit(RLIMIT_AS, &mem);
  rlim_t cpu = lim.extractor_timeout_ms / 1000 + 2;  // a backstop to the parent's timeout
  rlimit cpul{cpu, cpu};
  ::setrlimit(RLIMIT_CPU, &cpul);

  std::string out;
  int status = 0;
  try {
    DecodedMessage mine;
    Job job{parent.ctx, mine, 0, 0, false, {}};
    job.inflated = parent.inflated;
    job.members = parent.members;
    reader(job);
    for (const Segment& s : mine.segments) {
      out += 'S';
      out += static_cast<char>(s.kind);
      put_str(out, s.origin);
      put_str(out, s.text);
    }
    for (const Unscannable& u : mine.unscannable) {
      out += 'U';
      put_str(out, u.origin);
      put_str(out, u.reason);
    }
    out += 'E';
  } catch (const std::bad_alloc&) {
    status = 3;  // over extractor_memory_bytes
  } catch (...) {
    status = 4;  // the reader says corrupt
  }
  if (status == 0 && !write_all(fd, out)) status = 5;
  ::_exit(status);
}

}  // namespace

void run_isolated(Job& job, const std::string& origin, const char* format,
                  const std::function<void(Job&)>& reader) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw std::runtime_error("fork");
  }
  if (pid == 0) {
    ::close(fds[0]);
    child_main(fds[1], job, reader);
  }
  ::close(fds[1]);

  const Limits& lim = job.limits();
  const auto end =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(lim.extractor_timeout_ms);
  // What comes back is text the reader emitted: never more than the decoded-byte limit.
  const std::size_t cap = lim.max_decoded_bytes + (1u << 20);
  std::string data;
  bool timed_out = false, too_big = false;
  char buf[64 * 1024];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      timed_out = true;
      break;
    }
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (data.size() + static_cast<std::size_t>(n) > cap) {
      too_big = true;
      break;
    }
    data.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  if (timed_out || too_big) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    job.unscannable(origin, "extractor-timeout");
    return;
  }
  if (too_big) {
    job.limit(origin, "max_decoded_bytes", true);
    return;
  }
  if (WIFSIGNALED(status)) {
    // SIGKILL/SIGXCPU from the CPU backstop, SIGSEGV/SIGABRT from the library.
    job.unscannable(origin, WTERMSIG(status) == SIGXCPU ? "extractor-timeout" : "extractor-crash");
    return;
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  if (code == 3) {
    job.limit(origin, "extractor_memory_bytes", false);
    return;
  }
  if (code == 4) {
    job.unscannable(origin, std::string("corrupt:") + format);
    return;
  }
  if (code != 0 || data.empty() || data.back() != 'E') {
    job.unscannable(origin, "extractor-crash");
    return;
  }
  Reader in{data};
  while (!in.in.empty()) {
    char tag = in.in.front();
    in.in.remove_prefix(1);
    if (tag == 'E') break;
    std::string a, b;
    if (tag == 'S') {
      if (in.in.empty()) break;
      auto kind = static_cast<SegmentKind>(in.in.front());
      in.in.remove_prefix(1);
      if (!in.get_str(a) || !in.get_str(b)) break;
      job.emit(a, kind, std::move(b));
    } else if (tag == 'U') {
      if (!in.get_str(a) || !in.get_str(b)) break;
      job.unscannable(a, b);
    } else {
      break;
    }
  }
}

}  // namespace pm::attachments::detail
