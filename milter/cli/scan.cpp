// policyctl scan: run Engine::scan over files and print verdicts.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "cli/commands.h"
#include "engine/engine.h"
#include "engine/verdict_json.h"
#include "util/error.h"
#include "util/printable.h"
#include "util/strings.h"

namespace pm::cli {

namespace {

// A whole file in one read() into a buffer of its size (more reads only if it grows or the
// kernel returns less); "-" is standard input, read in 64 KiB blocks.
std::string read_input(const std::string& path) {
  int fd = path == "-" ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(path + ": " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() {
      if (fd != STDIN_FILENO) ::close(fd);
    }
  } closer{fd};
  struct stat st {};
  std::size_t want = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? static_cast<std::size_t>(st.st_size) : 0;
  std::string out(want + 1, '\0');  // +1: end of file is seen without a second resize
  std::size_t have = 0;
  for (;;) {
    if (have == out.size()) out.resize(out.size() + (64u << 10));
    ssize_t n = ::read(fd, out.data() + have, out.size() - have);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(path + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    have += static_cast<std::size_t>(n);
  }
  out.resize(have);
  return out;
}

// A few bytes either side of [start, end), on UTF-8 character boundaries, one line.
std::string in_context(const std::string& text, std::size_t start, std::size_t end, std::size_t pad = 50) {
  auto back = [&](std::size_t p) {
    while (p > 0 && (static_cast<unsigned char>(text[p]) & 0xC0) == 0x80) --p;
    return p;
  };
  std::size_t s = back(start > pad ? start - pad : 0);
  std::size_t e = std::min(text.size(), end + pad);
  while (e < text.size() && (static_cast<unsigned char>(text[e]) & 0xC0) == 0x80) ++e;
  std::string out = (s > 0 ? "..." : "") + text.substr(s, start - s) + "[[" +
                    text.substr(start, end - start) + "]]" + text.substr(end, e - end) +
                    (e < text.size() ? "..." : "");
  for (char& c : out)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  return out;
}

void explain(const Verdict& v, const std::string& file) {
  std::printf("%s\n", printable(file).c_str());
  std::printf("  action:     %s\n", to_string(v.action));
  std::string cats;
  for (const auto& c : v.categories) cats += (cats.empty() ? "" : ", ") + c;
  std::printf("  categories: %s\n", cats.empty() ? "(none)" : cats.c_str());
  std::printf("  sender:     %s\n", v.sender.empty() ? "(unknown)" : printable(v.sender).c_str());
  std::printf("  recipients:\n");
  if (v.recipients.empty()) std::printf("    (none: judged as if going outside the school)\n");
  for (const auto& r : v.recipients) {
    std::string rc;
    for (const auto& c : r.categories) rc += (rc.empty() ? "" : ", ") + c;
    std::printf("    %-40s %-17s %-10s %s\n", printable(r.address).c_str(), to_string(r.cls),
                to_string(r.action), rc.empty() ? "" : ("(" + rc + ")").c_str());
    if (!r.role.empty())
      std::printf("      role: %s (%s)\n", r.role.c_str(), printable(r.role_reason).c_str());
    if (!r.mismatch.empty())
      std::printf("      parent contacts: %s\n", printable(r.mismatch).c_str());
    if (!r.lookalike_of.empty())
      std::printf("      probable typo of %s\n", printable(r.lookalike_of).c_str());
    if (r.would_action != r.action)
      std::printf("      monitor mode: would be %s\n", to_string(r.would_action));
  }
  if (!v.notes.empty()) {
    std::string n;
    for (const auto& x : v.notes) n += (n.empty() ? "" : ", ") + x;
    std::printf("  notes:      %s\n", printable(n).c_str());
  }
  for (const auto& e : v.exceptions) {
    std::string ec;
    for (const auto& c : e.categories) ec += (ec.empty() ? "" : ", ") + c;
    std::printf("  exception:  %s for %s (%s): %s\n", printable(e.name).c_str(),
                printable(e.recipient).c_str(), ec.c_str(),
                e.action == Action::accept ? "deliver" : to_string(e.action));
  }
  if (v.monitoring() || v.monitor_all) {
    std::string mc;
    for (const auto& c : v.monitored) mc += (mc.empty() ? "" : ", ") + c;
    std::printf("  monitor:    %s; would be %s%s\n", v.monitor_all ? "whole filter" : "by category",
                to_string(v.would_action), mc.empty() ? "" : (" (" + mc + ")").c_str());
  }
  auto print_finding = [&](const Finding& f) {
    std::printf("    [%s] %s\n      in %s", f.category.c_str(), f.rule.c_str(),
                printable(f.origin).c_str());
    if (f.segment < v.segments.size()) {
      std::printf(", bytes %zu-%zu\n", f.start, f.end);
      std::printf("      %s\n",
                  printable(in_context(v.segments[f.segment].text, f.start, f.end)).c_str());
    } else {
      std::printf("\n");
    }
    if (!f.target.empty() || !f.stance.empty())
      std::printf("      sentence: target %s; stance %s\n", f.target.empty() ? "-" : f.target.c_str(),
                  f.stance.empty() ? "-" : f.stance.c_str());
    std::printf("      policy: %s\n", f.clause.c_str());
  };
  std::printf("  findings:%s\n", v.findings.empty() ? " (none)" : "");
  for (const auto& f : v.findings) print_finding(f);
  if (!v.unapplied.empty()) {
    std::printf("  matched but not counted (the category's recipient condition does not hold):\n");
    for (const auto& f : v.unapplied) print_finding(f);
  }
  if (!v.attachments.empty()) {
    std::printf("  attachments:\n");
    for (const auto& a : v.attachments)
      std::printf("    %s (%s, %zu bytes)\n", printable(a.origin).c_str(),
                  printable(a.content_type).c_str(), a.size);
  }
  std::printf("  segments:   %zu decoded, snapshot %s, %llu us\n\n", v.segments.size(), v.snapshot.c_str(),
              static_cast<unsigned long long>(v.elapsed_us));
}

}  // namespace

int scan(const std::filesystem::path& config, const Args& args) {
  bool json = false, expl = false, show_segments = false;
  Envelope env;
  bool have_env = false;
  std::vector<std::string> files;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--json") json = true;
    else if (a == "--explain") expl = true;
    else if (a == "--segments") show_segments = true;
    else if (a == "--from" && i + 1 < args.size()) { env.sender = args[++i]; have_env = true; }
    else if (a == "--rcpt" && i + 1 < args.size()) { env.recipients.push_back(args[++i]); have_env = true; }
    else if (a == "-" || a.empty() || a[0] != '-') files.push_back(a);
    else {
      std::fprintf(stderr, "policyctl scan: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "policyctl scan: no files given (see policyctl --help)\n");
    return 2;
  }
  std::shared_ptr<const Engine> engine;
  try {
    engine = Engine::load(config);
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "policyctl: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "policyctl: %s: %s\n", config.c_str(), e.what());
    return 2;
  }
  int status = 0;
  for (const auto& f : files) {
    std::string raw;
    try {
      raw = read_input(f);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "policyctl: %s\n", e.what());
      status = 1;
      continue;
    }
    Envelope e = env;
    if (have_env && e.recipients.empty()) {
      // --from alone: recipients still come from the headers.
      have_env = false;
    }
    Verdict v;
    try {
      v = engine->scan(raw, have_env ? &e : nullptr);
    } catch (const std::exception& ex) {
      std::fprintf(stderr, "policyctl: %s: scan failed: %s\n", f.c_str(), ex.what());
      status = 1;
      continue;
    }
    if (!env.sender.empty()) v.sender = env.sender;
    if (show_segments) {
      // What the filter reads: every decoded segment, as a person would see it.
      for (const auto& seg : v.segments)
        std::printf("----- %s (%s, %zu bytes)\n%s\n", printable(seg.origin).c_str(),
                    to_string(seg.kind), seg.text.size(), printable_text(seg.text).c_str());
    }
    if (json) {
      std::printf("%s\n", verdict_to_json(v, f).c_str());
    } else if (expl) {
      explain(v, f);
    } else {
      std::string cats;
      for (const auto& c : v.categories) cats += (cats.empty() ? "" : ",") + c;
      std::printf("%s: %s %s\n", printable(f).c_str(), to_string(v.action),
                  cats.empty() ? "-" : cats.c_str());
    }
  }
  return status;
}

}  // namespace pm::cli
