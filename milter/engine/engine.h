// Engine::scan - the whole filter in one call.
//
//   auto engine = Engine::load("conf/policy-milter.toml");   // compile once
//   Verdict v = engine->scan(raw_bytes, &envelope);          // per message, any thread
//
// Passes: decode -> normalise -> match (Hyperscan) -> validate -> judge. An Engine is an
// immutable snapshot of configuration + compiled rules; reload builds a new one and swaps
// the shared_ptr, so messages in flight finish on the snapshot they started with.
//
// Errors: load() throws ConfigError (file:line) for bad configuration or rules. scan()
// never throws for bad mail (it becomes findings, e.g. `unscannable`); it throws ScanError
// only when the engine itself fails (out of memory, Hyperscan error), which the daemon maps
// to its configured on_error action (default: defer).
// Thread safety: scan() is const and thread-safe; Hyperscan scratch comes from a pool.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/verdict.h"

namespace pm {

struct Envelope {
  std::string sender;                   // MAIL FROM (addr-spec)
  std::vector<std::string> recipients;  // RCPT TO (addr-spec)
};

struct Config;
class RuleSet;
class Matcher;
struct JudgePolicy;
struct RuleHit;
struct DecodedMessage;
class ParentContacts;
struct JudgeInput;
struct SchoolDomains;

class Engine {
 public:
  // Reads the configuration file and the rules it names, compiles them.
  static std::shared_ptr<const Engine> load(const std::filesystem::path& config_file);
  ~Engine();

  // `envelope` may be null (a file scan): recipients are then To + Cc + Bcc and the sender
  // is From. `unread` (e.g. "limit:memory_budget"): the caller will not have the message
  // decoded; it is judged as `unscannable` with that reason, without reading its bytes.
  Verdict scan(std::string_view message, const Envelope* envelope,
               const char* unread = nullptr) const;

  const Config& config() const { return *config_; }
  const RuleSet& rules() const { return *rules_; }
  const Matcher& matcher() const { return *matcher_; }
  // Identifies this snapshot (hash of configuration + rules), shown by `policyctl status`.
  const std::string& snapshot_id() const { return snapshot_; }

 private:
  Engine();
  void drop_credited(std::vector<RuleHit>& hits, const DecodedMessage& d) const;
  // Does the sender, in their own words, endorse the forwarded or quoted words they pass
  // on ("couldn't agree more")? Then those words count as theirs.
  bool endorses(const DecodedMessage& d, const std::vector<std::string>& others) const;
  // Recipient roles and the parent-contacts check (policy/recipient_role.h,
  // policy/parent_contacts.h): fills in.recipients[].role / cleared and `v`'s reasons.
  void judge_recipients(JudgeInput& in, const std::vector<RuleHit>& hits, const DecodedMessage& d,
                        const ParentContacts& contacts, Verdict& v) const;
  // Per school of the configuration (Config::schools, same order): what a message of that
  // school is judged against.
  struct SchoolState;
  std::unique_ptr<Config> config_;
  std::unique_ptr<RuleSet> rules_;
  std::unique_ptr<Matcher> matcher_;
  std::unique_ptr<JudgePolicy> policy_;    // the whole policy: what the filter would do
  std::unique_ptr<JudgePolicy> enforced_;  // less the categories in monitor mode
  std::vector<SchoolState> schools_;
  std::vector<SchoolDomains> school_domains_;  // for resolve_school (policy/schools.h)
  std::string snapshot_;
};

}  // namespace pm
