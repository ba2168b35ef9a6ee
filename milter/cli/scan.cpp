// policyctl scan: run Engine::scan over files and print verdicts.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "cli/commands.h"
#include "cli/mail_source.h"
#include "daemon/config.h"
#include "daemon/outgoing.h"
#include "engine/config.h"
#include "engine/engine.h"
#include "engine/verdict_json.h"
#include "match/rules.h"
#include "util/error.h"
#include "util/printable.h"
#include "util/strings.h"

namespace pm::cli {

namespace {

// A few bytes either side of [start, end), on UTF-8 character boundaries, one line.
std::string in_context(const std::string& text, std::size_t start, std::size_t end,
                       std::size_t pad = 50) {
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

void explain(const Verdict& v, const std::string& file, const RuleSet& rules) {
  std::printf("%s\n", printable(file).c_str());
  std::printf("  action:     %s\n", to_string(v.action));
  std::string cats;
  for (const auto& c : v.categories) cats += (cats.empty() ? "" : ", ") + c;
  std::printf("  categories: %s\n", cats.empty() ? "(none)" : cats.c_str());
  std::printf("  sender:     %s\n", v.sender.empty() ? "(unknown)" : printable(v.sender).c_str());
  if (!v.school_reason.empty())
    std::printf("  school:     %s\n", printable(v.school_reason).c_str());
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
  // Findings grouped by rule: the rule and its policy clause once, then every piece of
  // evidence it found (in finding order; rules in the order they first fired).
  auto print_findings = [&](const std::vector<Finding>& findings) {
    std::vector<std::vector<const Finding*>> groups;
    std::map<std::string, std::size_t> index;
    for (const auto& f : findings) {
      auto [it, fresh] = index.emplace(f.rule, groups.size());
      if (fresh) groups.emplace_back();
      groups[it->second].push_back(&f);
    }
    for (const auto& g : groups) {
      const Finding& first = *g.front();
      std::printf("    [%s] %s%s\n", first.category.c_str(), first.rule.c_str(),
                  g.size() > 1 ? (" (" + std::to_string(g.size()) + " findings)").c_str() : "");
      for (const Finding* f : g) {
        std::printf("      in %s", printable(f->origin).c_str());
        if (f->segment < v.segments.size()) {
          std::printf(", bytes %zu-%zu\n", f->start, f->end);
          std::printf("        %s\n",
                      printable(in_context(v.segments[f->segment].text, f->start, f->end)).c_str());
        } else {
          std::printf("\n");
        }
        if (!f->target.empty() || !f->stance.empty())
          std::printf("        sentence: target %s; stance %s\n",
                      f->target.empty() ? "-" : printable(f->target).c_str(),
                      f->stance.empty() ? "-" : printable(f->stance).c_str());
      }
      std::printf("      policy: %s\n", first.clause.c_str());
      // A rule the school's local files added or changed says which file did it.
      if (const Rule* r = rules.rule(first.rule); r && !r->local.empty())
        std::printf("      local: %s\n", r->local.c_str());
    }
  };
  std::printf("  findings:%s\n", v.findings.empty() ? " (none)" : "");
  print_findings(v.findings);
  if (!v.unapplied.empty()) {
    std::printf("  matched but not counted (the category's recipient condition does not hold):\n");
    print_findings(v.unapplied);
  }
  if (!v.attachments.empty()) {
    std::printf("  attachments:\n");
    for (const auto& a : v.attachments)
      std::printf("    %s (%s, %zu bytes)\n", printable(a.origin).c_str(),
                  printable(a.content_type).c_str(), a.size);
  }
  std::printf("  segments:   %zu decoded, snapshot %s, %llu us\n\n", v.segments.size(),
              v.snapshot.c_str(), static_cast<unsigned long long>(v.elapsed_us));
}

// Why the milter would pass mail from `sender` without filtering it ("" when it filters
// it): only outgoing mail is filtered - from a trusted client (SASL, internal network,
// local submission) with an envelope sender on a staff domain (daemon/outgoing.h).
std::string unfiltered_reason(const std::filesystem::path& config, const std::string& sender) {
  DaemonConfig dc;
  try {
    dc = load_daemon_config(config);
  } catch (const std::exception&) {
    return "";  // the engine's own load reports configuration errors
  }
  ClientInfo trusted;  // local submission: the client is trusted, only the sender decides
  trusted.local = true;
  if (is_outgoing(trusted, sender, dc)) return "";
  std::string domains;
  for (const auto& d : dc.domains.staff) domains += (domains.empty() ? "" : ", ") + d;
  return "the milter would not filter mail from " + printable(sender) +
         ": only senders on a staff domain (" + domains +
         ") are filtered ([school] staff_domains); this verdict is what the rules say, but "
         "such mail passes untouched";
}

// Exit status of a scan: the worst verdict (0 accept, 3 tag, 4 quarantine), unless a path
// could not be scanned (1: the results are incomplete).
constexpr int kExitTag = 3, kExitQuarantine = 4;

}  // namespace

int scan(const std::filesystem::path& config, const Args& args) {
  bool json = false, expl = false, show_segments = false, recursive = false, summary_json = false;
  Envelope env;
  bool have_env = false;
  std::vector<std::string> files;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      std::fputs(
          "usage: policyctl scan [--json [--summary]] [--explain] [--segments] [--recursive]\n"
          "                      [--from ADDR] [--rcpt ADDR]... PATH...\n"
          "  PATH: a message file (- reads standard input), an mbox, a Maildir or a directory\n"
          "  --explain  which rule fired where, its policy clause and every piece of evidence\n"
          "  --segments the decoded text the rules saw\n"
          "  --from/--rcpt  the envelope (default: From and To + Cc + Bcc)\n"
          "exit status: 0 all accepted, 3 worst tagged, 4 some held, 1 a path not scanned\n"
          "(policyctl --help: the whole reference)\n",
          stdout);
      return 0;
    }
    if (a == "--json")
      json = true;
    else if (a == "--explain")
      expl = true;
    else if (a == "--segments")
      show_segments = true;
    else if (a == "--recursive" || a == "-r")
      recursive = true;
    else if (a == "--summary")
      summary_json = true;
    else if (a == "--from" && i + 1 < args.size()) {
      env.sender = args[++i];
      have_env = true;
    } else if (a == "--rcpt" && i + 1 < args.size()) {
      env.recipients.push_back(args[++i]);
      have_env = true;
    } else if (a == "-" || a.empty() || a[0] != '-')
      files.push_back(a);
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
  if (!env.sender.empty())
    if (std::string why = unfiltered_reason(config, env.sender); !why.empty())
      std::fprintf(stderr, "policyctl: note: %s\n", why.c_str());
  // --from alone: recipients still come from the headers.
  if (have_env && env.recipients.empty()) have_env = false;

  std::size_t messages = 0, errors = 0;
  std::map<std::string, std::size_t> by_action, by_category;
  Action worst = Action::accept;
  WalkOptions walk;
  walk.recursive = recursive;
  walk.max_message_bytes = engine->config().limits.max_message_bytes;
  auto on_error = [&](const std::string& name, const std::string& why) {
    std::fprintf(stderr, "policyctl: %s: %s\n", printable(name).c_str(), why.c_str());
    ++errors;
  };
  auto on_item = [&](MailItem& item) {
    Verdict v;
    try {
      // Larger than [limits] max_message_bytes: judged without its bytes (unscannable).
      v = engine->scan(item.bytes, have_env ? &env : nullptr,
                       item.truncated ? "limit:max_message_bytes" : nullptr);
    } catch (const std::exception& ex) {
      on_error(item.name, std::string("scan failed: ") + ex.what());
      return;
    }
    ++messages;
    ++by_action[to_string(v.action)];
    for (const auto& c : v.categories) ++by_category[c];
    if (v.action == Action::quarantine || (v.action == Action::tag && worst == Action::accept))
      worst = v.action;
    if (!env.sender.empty()) v.sender = env.sender;
    if (show_segments) {
      // What the filter reads: every decoded segment, as a person would see it.
      for (const auto& seg : v.segments)
        std::printf("----- %s (%s, %zu bytes)\n%s\n", printable(seg.origin).c_str(),
                    to_string(seg.kind), seg.text.size(), printable_text(seg.text).c_str());
    }
    if (json) {
      std::printf("%s\n", verdict_to_json(v, item.name).c_str());
    } else if (expl) {
      explain(v, item.name, engine->rules());
    } else {
      std::string cats;
      for (const auto& c : v.categories) cats += (cats.empty() ? "" : ",") + c;
      std::printf("%s: %s %s\n", printable(item.name).c_str(), to_string(v.action),
                  cats.empty() ? "-" : cats.c_str());
    }
  };
  for (const auto& f : files) walk_mail(f, walk, on_item, on_error);

  // The summary: after several results (text), or as a last JSON line with --summary.
  if (json && summary_json) {
    nlohmann::json j = {{"messages", messages},
                        {"errors", errors},
                        {"by_action", by_action},
                        {"by_category", by_category}};
    std::printf("%s\n", nlohmann::json{{"summary", j}}.dump().c_str());
  } else if (!json && messages + errors > 1) {
    std::printf("\nsummary: %zu message(s), %zu error(s)\n", messages, errors);
    std::printf("  %-16s %8s\n", "action", "messages");
    for (const char* a : {"accept", "tag", "quarantine"})
      std::printf("  %-16s %8zu\n", a, by_action.count(a) ? by_action[a] : 0);
    if (!by_category.empty()) {
      std::printf("  %-16s %8s\n", "category", "messages");
      for (const auto& [c, n] : by_category) std::printf("  %-16s %8zu\n", c.c_str(), n);
    }
  }
  std::fflush(stdout);
  if (errors) return 1;
  if (messages == 0) return 1;
  return worst == Action::quarantine ? kExitQuarantine : worst == Action::tag ? kExitTag : 0;
}

}  // namespace pm::cli
