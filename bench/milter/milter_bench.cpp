// milter_bench: a milter-protocol (version 6) load generator, speaking to policy-milter the
// way Postfix does - one connection per message: option negotiation, connect, MAIL, RCPT,
// headers, end of headers, body chunks, end of message, quit - honouring the no-reply and
// skip flags the filter negotiates and sending the macros it asks for.
//
//   milter_bench --socket inet:PORT@127.0.0.1|unix:PATH [--connections N] [--messages M]
//                [--pid DAEMON_PID] [--json FILE] [--per-message FILE] [--nodelay] FILE.eml...
//
// N threads each keep one message in flight; messages are the files in turn, the envelope
// sender is the From address and the recipients are the To/Cc addresses (so verdicts are
// the corpus'). Per message the time from connect to the final answer is measured; the
// result is counted under its action: accept / tag (from the X-Policy-Verdict header the
// filter adds), quarantine (discard), pass (accepted at end of headers: not outgoing),
// tempfail, reject. With --pid, the daemon's CPU time (utime + stime from /proc, its live
// descendants and reaped children included) over the run is divided by the messages.
// Prints one line per action and a JSON document (--json); --per-message writes
// "action<TAB>ms<TAB>file" per message. Exit 1 on a protocol error.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

// Protocol constants (libmilter/mfdef.h), spelled out so the client needs no libmilter.
constexpr std::uint32_t kNoConnect = 0x1, kNoHelo = 0x2, kNoMail = 0x4, kNoRcpt = 0x8,
                        kNoBody = 0x10, kNoHdrs = 0x20, kNoEoh = 0x40, kNrHdr = 0x80,
                        kNrConn = 0x1000, kNrHelo = 0x2000, kNrMail = 0x4000, kNrRcpt = 0x8000,
                        kNrEoh = 0x40000, kNrBody = 0x80000;
constexpr std::uint32_t kAllActions = 0x1FF, kAllSteps = 0x1FFFFF;

struct Message {
  std::string file, from;
  std::vector<std::string> rcpts;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // CRLF line ends
};

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Message parse(const std::string& path) {
  std::string raw = read_all(path);
  std::string text;  // LF line ends first
  for (std::size_t i = 0; i < raw.size(); ++i)
    if (!(raw[i] == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n')) text += raw[i];
  Message m;
  m.file = path;
  std::size_t split = text.find("\n\n");
  std::string head = text.substr(0, split == std::string::npos ? text.size() : split);
  std::string body = split == std::string::npos ? "" : text.substr(split + 2);
  std::istringstream hs(head);
  std::string line;
  while (std::getline(hs, line)) {
    if ((line.starts_with(" ") || line.starts_with("\t")) && !m.headers.empty()) {
      m.headers.back().second += "\n" + line;
    } else if (auto c = line.find(':'); c != std::string::npos) {
      std::string v = line.substr(c + 1);
      if (!v.empty() && (v[0] == ' ' || v[0] == '\t')) v.erase(0, 1);
      m.headers.emplace_back(line.substr(0, c), v);
    }
  }
  for (char ch : body) {
    if (ch == '\n') m.body += '\r';
    m.body += ch;
  }
  static const std::regex addr(R"([A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]+)");
  for (const auto& [n, v] : m.headers) {
    std::string ln = n;
    std::transform(ln.begin(), ln.end(), ln.begin(), ::tolower);
    if (ln != "from" && ln != "to" && ln != "cc") continue;
    for (std::sregex_iterator it(v.begin(), v.end(), addr), end; it != end; ++it) {
      if (ln == "from") {
        if (m.from.empty()) m.from = it->str();
      } else {
        m.rcpts.push_back(it->str());
      }
    }
  }
  if (m.rcpts.empty()) m.rcpts.push_back("ben@stannes.example");
  return m;
}

// --nodelay: the client sets TCP_NODELAY (Postfix does not), which takes a filter's
// delayed ACKs out of the timing - what the filter could do with a client that never waits.
bool g_nodelay = false;

class Conn {
 public:
  explicit Conn(const std::string& spec) {
    if (spec.starts_with("unix:") || spec.starts_with("local:")) {
      std::string path = spec.substr(spec.find(':') + 1);
      fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
      if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) fail("connect " + spec);
    } else {  // inet:PORT@HOST
      auto at = spec.find('@');
      int port = std::atoi(spec.substr(5, at - 5).c_str());
      fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      // Like Postfix: Nagle stays on, so a filter that leaves its ACKs delayed stalls it.
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<std::uint16_t>(port));
      ::inet_pton(AF_INET, spec.substr(at + 1).c_str(), &a.sin_addr);
      if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) fail("connect " + spec);
      const int one = 1;
      if (g_nodelay) ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
  }
  ~Conn() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error(what + ": " + std::strerror(errno));
  }

  // One write per command, as Postfix flushes its stream after each (milter8.c).
  void send(char cmd, const std::string& data = {}) {
    std::uint32_t len = htonl(static_cast<std::uint32_t>(data.size() + 1));
    out_.append(reinterpret_cast<const char*>(&len), 4);
    out_ += cmd;
    out_ += data;
    flush();
  }
  void flush() {
    std::size_t off = 0;
    while (off < out_.size()) {
      ssize_t n = ::write(fd_, out_.data() + off, out_.size() - off);
      if (n <= 0) fail("write");
      off += static_cast<std::size_t>(n);
    }
    out_.clear();
  }
  std::pair<char, std::string> reply() {
    flush();
    std::uint32_t len;
    read_exact(reinterpret_cast<char*>(&len), 4);
    len = ntohl(len);
    if (len == 0 || len > (64u << 20)) throw std::runtime_error("bad reply length");
    std::string data(len, '\0');
    read_exact(data.data(), len);
    return {data[0], data.substr(1)};
  }

 private:
  void read_exact(char* p, std::size_t n) {
    while (n > 0) {
      ssize_t r = ::read(fd_, p, n);
      if (r <= 0) throw std::runtime_error("connection closed by the filter");
      p += r;
      n -= static_cast<std::size_t>(r);
    }
  }
  int fd_ = -1;
  std::string out_;
};

std::string z(const std::string& s) {
  return s + std::string(1, '\0');
}

std::uint32_t be32(const std::string& s, std::size_t at) {
  std::uint32_t v;
  std::memcpy(&v, s.data() + at, 4);
  return ntohl(v);
}

// One message through the protocol; returns its action.
std::string run_one(const std::string& spec, const Message& m, int seq) {
  Conn c(spec);
  std::string neg;
  for (std::uint32_t v : {6u, kAllActions, kAllSteps}) {
    std::uint32_t b = htonl(v);
    neg.append(reinterpret_cast<const char*>(&b), 4);
  }
  c.send('O', neg);
  auto [oc, od] = c.reply();
  if (oc != 'O' || od.size() < 12) throw std::runtime_error("bad option negotiation reply");
  const std::uint32_t p = be32(od, 8);
  std::map<std::uint32_t, std::string> want;  // stage -> macros the filter asked for
  for (std::size_t i = 12; i + 4 < od.size();) {
    std::uint32_t stage = be32(od, i);
    std::size_t e = od.find('\0', i + 4);
    want[stage] = od.substr(i + 4, e - i - 4);
    i = e + 1;
  }
  auto macros = [&](std::uint32_t stage, char cmd,
                    const std::vector<std::pair<std::string, std::string>>& have) {
    std::string d(1, cmd);
    auto it = want.find(stage);
    for (const auto& [k, v] : have)
      if (it == want.end() || (" " + it->second + " ").find(" " + k + " ") != std::string::npos)
        d += z(k) + z(v);
    if (d.size() > 1) c.send('D', d);
  };
  // A step either has no reply (negotiated) or must answer "continue"; another answer
  // ends the message there (incoming mail is accepted at end of headers).
  std::string early;
  auto step = [&](bool nr) -> bool {
    if (nr) return true;
    auto [rc, rd] = c.reply();
    if (rc == 'c') return true;
    early = rc == 'a'                ? "pass"
            : rc == 'd'              ? "quarantine"
            : rc == 't' || rc == 'y' ? "tempfail"
                                     : "reject";
    return false;
  };
  auto finish = [&](const std::string& action) {
    c.send('Q');
    c.flush();
    return action;
  };
  std::string a4 =
      std::string(1, '4') + std::string("\x00\x19", 2) + z("127.0.0.1");  // family, port 25
  if (!(p & kNoConnect)) {
    c.send('C', z("localhost") + a4);
    if (!step(p & kNrConn)) return finish(early);
  }
  if (!(p & kNoHelo)) {
    c.send('H', z("client.stannes.example"));
    if (!step(p & kNrHelo)) return finish(early);
  }
  char qid[32];
  std::snprintf(qid, sizeof qid, "B%07d", seq);
  macros(1, 'M', {{"i", qid}, {"{auth_authen}", ""}, {"{mail_addr}", m.from}});  // SMFIM_ENVFROM
  if (!(p & kNoMail)) {
    c.send('M', z("<" + m.from + ">"));
    if (!step(p & kNrMail)) return finish(early);
  }
  for (const auto& r : m.rcpts) {
    if (p & kNoRcpt) break;
    c.send('R', z("<" + r + ">"));
    if (!step(p & kNrRcpt)) return finish(early);
  }
  if (!(p & kNoHdrs))
    for (const auto& [n, v] : m.headers) {
      c.send('L', z(n) + z(v));
      if (!step(p & kNrHdr)) return finish(early);
    }
  if (!(p & kNoEoh)) {
    c.send('N');
    if (!step(p & kNrEoh)) return finish(early);
  }
  if (!(p & kNoBody))
    for (std::size_t off = 0; off < m.body.size(); off += 65535) {
      c.send('B', m.body.substr(off, 65535));
      if (!step(p & kNrBody)) return finish(early);
    }
  macros(4, 'E', {{"i", qid}});  // SMFIM_EOM
  c.send('E');
  std::string verdict;
  for (;;) {
    auto [rc, rd] = c.reply();
    if (rc == 'h' || rc == 'i') {  // add/insert header: [index] name\0value\0
      std::size_t at = rc == 'i' ? 4 : 0;
      std::string name = rd.c_str() + at;
      if (name == "X-Policy-Verdict") verdict = rd.c_str() + at + name.size() + 1;
      continue;
    }
    if (rc == 'm' || rc == '-' || rc == '+' || rc == 'p' || rc == 'e' || rc == '2' || rc == 'q')
      continue;
    if (rc == 'a' || rc == 'c') {
      if (verdict.empty()) return finish("pass");
      return finish(verdict.starts_with("tag")      ? "tag"
                    : verdict.starts_with("accept") ? "accept"
                                                    : "split");
    }
    if (rc == 'd') return finish("quarantine");
    if (rc == 't' || rc == 'y') return finish("tempfail");
    return finish("reject");
  }
}

// utime, stime, cutime, cstime and the parent of one process (/proc/PID/stat); false when
// it is gone.
struct ProcTimes {
  unsigned long long ut = 0, st = 0, cut = 0, cst = 0;
  long ppid = 0;
};
bool proc_times(long pid, ProcTimes& t) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = s.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream f(s.substr(close + 2));
  std::string tok;
  for (int field = 3; f >> tok && field <= 17; ++field) {
    if (field == 4) t.ppid = std::stol(tok);
    if (field == 14) t.ut = std::stoull(tok);
    if (field == 15) t.st = std::stoull(tok);
    if (field == 16) t.cut = std::stoull(tok);
    if (field == 17) t.cst = std::stoull(tok);
  }
  return true;
}

// CPU seconds of the daemon: the process, every live descendant (Rspamd's proxy worker is a
// child of its main process) and the children it has reaped (policy-milter's isolated
// legacy-Office readers).
double cpu_seconds(long pid) {
  std::map<long, ProcTimes> all;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    ProcTimes t;
    if (proc_times(std::stol(name), t)) all[std::stol(name)] = t;
  }
  auto it = all.find(pid);
  if (it == all.end()) return 0;
  unsigned long long ticks = it->second.ut + it->second.st + it->second.cut + it->second.cst;
  std::set<long> tree = {pid};
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& [p, t] : all)
      if (!tree.count(p) && tree.count(t.ppid)) {
        tree.insert(p);
        ticks += t.ut + t.st;
        grew = true;
      }
  }
  return static_cast<double>(ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1,
                    static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5))];
}

}  // namespace

int main(int argc, char** argv) {
  std::string spec, json_out, per_message;
  int connections = 1;
  long messages = 0, pid = 0;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--socket")
      spec = next();
    else if (a == "--connections")
      connections = std::max(1, std::atoi(next().c_str()));
    else if (a == "--messages")
      messages = std::atol(next().c_str());
    else if (a == "--pid")
      pid = std::atol(next().c_str());
    else if (a == "--json")
      json_out = next();
    else if (a == "--nodelay")
      g_nodelay = true;
    else if (a == "--per-message")
      per_message = next();
    else
      files.push_back(a);
  }
  if (spec.empty() || files.empty()) {
    std::fprintf(stderr,
                 "usage: milter_bench --socket SPEC [--connections N] [--messages M] [--pid PID] "
                 "[--json F] [--per-message F] [--nodelay] FILE...\n");
    return 64;
  }
  std::vector<Message> corpus;
  for (const auto& f : files) corpus.push_back(parse(f));
  if (messages <= 0) messages = static_cast<long>(corpus.size());

  std::mutex mu;
  std::map<std::string, std::vector<double>> lat;  // action -> ms
  std::vector<std::string> lines;                  // --per-message
  std::atomic<long> next{0};
  std::atomic<bool> failed{false};
  std::string first_error;
  const double cpu0 = pid ? cpu_seconds(pid) : 0;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < connections; ++t)
    threads.emplace_back([&] {
      std::vector<std::pair<std::string, double>> mine;
      std::vector<std::string> my_lines;
      for (long i; (i = next++) < messages && !failed;) {
        const Message& m = corpus[static_cast<std::size_t>(i) % corpus.size()];
        auto s = std::chrono::steady_clock::now();
        try {
          std::string action = run_one(spec, m, static_cast<int>(i));
          double ms =
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s)
                  .count();
          mine.emplace_back(action, ms);
          if (!per_message.empty())
            my_lines.push_back(action + "\t" + std::to_string(ms) + "\t" + m.file);
        } catch (const std::exception& e) {
          std::lock_guard lock(mu);
          if (!failed.exchange(true)) first_error = m.file + ": " + e.what();
        }
      }
      std::lock_guard lock(mu);
      for (auto& [a, ms] : mine) lat[a].push_back(ms);
      lines.insert(lines.end(), my_lines.begin(), my_lines.end());
    });
  for (auto& t : threads) t.join();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = pid ? cpu_seconds(pid) - cpu0 : 0;
  if (failed) {
    std::fprintf(stderr, "milter_bench: %s\n", first_error.c_str());
    return 1;
  }
  std::vector<double> all;
  for (auto& [a, v] : lat) all.insert(all.end(), v.begin(), v.end());
  const double n = static_cast<double>(all.size());
  std::printf("milter_bench: %zu messages, %d connection(s), %.2f s: %.0f msg/s", all.size(),
              connections, wall, n / wall);
  if (pid) std::printf(", daemon CPU %.3f ms/message", cpu * 1000.0 / n);
  std::printf("\n  %-11s %6s %8s %8s %8s\n", "action", "count", "p50 ms", "p95 ms", "p99 ms");
  std::ostringstream js;
  js << "{\"connections\": " << connections << ", \"messages\": " << all.size()
     << ", \"wall_s\": " << wall << ", \"msg_per_s\": " << n / wall
     << ", \"daemon_cpu_ms_per_msg\": " << (pid ? cpu * 1000.0 / n : -1) << ", \"actions\": {";
  bool first = true;
  lat["all"] = all;
  for (auto& [a, v] : lat) {
    std::printf("  %-11s %6zu %8.2f %8.2f %8.2f\n", a.c_str(), v.size(), pct(v, 0.5), pct(v, 0.95),
                pct(v, 0.99));
    js << (first ? "" : ", ") << "\"" << a << "\": {\"count\": " << v.size()
       << ", \"p50\": " << pct(v, 0.5) << ", \"p95\": " << pct(v, 0.95)
       << ", \"p99\": " << pct(v, 0.99) << "}";
    first = false;
  }
  js << "}}\n";
  if (!json_out.empty()) std::ofstream(json_out) << js.str();
  if (!per_message.empty()) {
    std::ofstream pm(per_message);
    for (const auto& l : lines) pm << l << "\n";
  }
  return 0;
}
