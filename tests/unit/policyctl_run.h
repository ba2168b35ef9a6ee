// Runs the real policyctl (PM_POLICYCTL, set by the test's CMakeLists) with `args` through
// the shell and returns its exit status and standard output (append " 2>&1" to `args` for
// standard error too). For the tests of the policyctl contract.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace pm::test {

struct Output {
  int status;
  std::string out;
};

inline Output policyctl(const std::string& args) {
  std::string cmd = std::string(PM_POLICYCTL) + " " + args;
  Output r{0, {}};
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  while (std::size_t n = fread(buf.data(), 1, buf.size(), p)) r.out.append(buf.data(), n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace pm::test
