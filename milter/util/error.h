// The three kinds of error (see ARCHITECTURE.md, style 4):
//  - a bug: abort (assert);
//  - bad configuration or rules: ConfigError, carrying file:line, refuses start or reload;
//  - a bad message: never an exception out of Engine::scan; it becomes a finding or, for
//    the engine's own failure, ScanError, which the daemon maps to its `on_error` action.
#pragma once

#include <stdexcept>
#include <string>

namespace pm {

class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string file, int line, const std::string& message)
      : std::runtime_error(file + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " + message),
        file_(std::move(file)),
        line_(line) {}
  const std::string& file() const { return file_; }
  int line() const { return line_; }

 private:
  std::string file_;
  int line_;
};

class ScanError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace pm
