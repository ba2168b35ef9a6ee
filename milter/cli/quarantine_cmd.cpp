// policyctl quarantine: the IT admin's view of held mail, through the same ReviewService
// the review page uses (release reinjects through the loopback listener, refuse tells the
// sender, everything audited).
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <set>

#include "cli/review_commands.h"
#include "review/service.h"
#include "util/printable.h"

namespace pm::cli {

namespace {

using nlohmann::json;

const char* const kUsage =
    "usage: policyctl quarantine list [--status held|released|refused|all] [--category C] "
    "[--sender S] [--school ID]... [--json]\n"
    "       policyctl quarantine show ID [--json | --raw]\n"
    "       policyctl quarantine release ID [--to ADDR]... [--note TEXT]\n"
    "       policyctl quarantine refuse ID [--note TEXT]\n"
    "       policyctl quarantine delete ID [--note TEXT]\n"
    "       policyctl quarantine purge\n"
    "       policyctl quarantine notify [--digest]\n";

std::string admin_actor() {
  const char* who = std::getenv("SUDO_USER");
  if (!who || !*who) {
    passwd* pw = ::getpwuid(::getuid());
    who = pw ? pw->pw_name : "unknown";
  }
  return std::string("policyctl:") + who;
}

std::string age(std::int64_t seconds) {
  if (seconds < 3600) return std::to_string(seconds / 60) + "m";
  if (seconds < 86400) return std::to_string(seconds / 3600) + "h";
  return std::to_string(seconds / 86400) + "d";
}

// Everything printed for a human goes through printable(): a held Subject or address is
// anyone's text, and must not drive the admin's terminal.
std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return printable(s);
}

std::string p(const json& j) {
  return printable(j.is_string() ? j.get<std::string>() : j.dump());
}
std::string p(const std::string& s) {
  return printable(s);
}
std::string p(const char* s) {
  return printable(s);
}

// The option's value after `i`, or nullopt (usage error).
std::optional<std::string> value(const Args& a, std::size_t& i) {
  if (i + 1 >= a.size()) return std::nullopt;
  return a[++i];
}

int run(ReviewService& svc, const Args& args) {
  const std::string cmd = args[0];
  std::vector<std::string> positional, to, schools;
  std::string note, status = "held", category, sender;
  bool as_json = false, digest = false, raw = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::optional<std::string> v;
    if (a == "--json")
      as_json = true;
    else if (a == "--raw")
      raw = true;
    else if (a == "--digest")
      digest = true;
    else if (a == "--note" && (v = value(args, i)))
      note = *v;
    else if (a == "--to" && (v = value(args, i)))
      to.push_back(*v);
    else if (a == "--status" && (v = value(args, i)))
      status = *v;
    else if (a == "--category" && (v = value(args, i)))
      category = *v;
    else if (a == "--sender" && (v = value(args, i)))
      sender = *v;
    else if (a == "--school" && (v = value(args, i)))
      schools.push_back(*v);
    else if (!a.empty() && a[0] == '-') {
      std::fputs(kUsage, stderr);
      return 2;
    } else
      positional.push_back(a);
  }
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  auto need_id = [&]() -> bool {
    if (positional.size() == 1) return true;
    std::fputs(kUsage, stderr);
    return false;
  };

  if (cmd == "list") {
    QuarantineFilter f;
    f.limit = 100000;
    if (status != "all") {
      f.status = parse_quarantine_status(status);
      if (!f.status) {
        std::fprintf(stderr, "policyctl: unknown status %s\n", p(status).c_str());
        return 2;
      }
    }
    if (!category.empty()) {
      // A misspelt category would list nothing - a false "nothing held": name the valid ones
      // (the configuration's [actions] categories, unscannable, and any the store holds).
      std::set<std::string> valid{"unscannable"};
      for (const auto& [c, _] : svc.config().engine.actions) valid.insert(c);
      QuarantineFilter all;
      all.limit = 100000;
      for (const auto& item : svc.store().list(all))
        valid.insert(item.categories.begin(), item.categories.end());
      if (!valid.count(category)) {
        std::string names;
        for (const auto& c : valid) names += (names.empty() ? "" : ", ") + c;
        std::fprintf(stderr, "policyctl: unknown category %s (valid: %s)\n", p(category).c_str(),
                     names.c_str());
        return 2;
      }
    }
    f.category = category;
    f.sender = sender;
    // [[schools]] ids; a misspelt one would list nothing, so it is refused.
    for (const auto& id : schools)
      if (!svc.config().school(id)) {
        std::fprintf(stderr, "policyctl: no school %s in [[schools]]\n", p(id).c_str());
        return 2;
      }
    f.schools = schools;
    // Mail stored before [[schools]] belongs to the first school.
    if (!schools.empty() &&
        std::find(schools.begin(), schools.end(), svc.config().schools.front().id) != schools.end())
      f.schools.push_back("");
    for (const auto& item : svc.store().list(f)) {
      if (as_json) {
        std::cout << svc.summary(item).dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
        continue;
      }
      std::printf("%s  %-8s %5s  %s -> %s  [%s]  %s\n", item.id.c_str(), to_string(item.status),
                  age(now - item.received_at).c_str(), p(item.sender).c_str(),
                  join(item.recipients).c_str(), join(item.categories).c_str(),
                  p(item.subject).c_str());
    }
    return 0;
  }
  if (cmd == "show") {
    if (!need_id()) return 2;
    if (raw) {
      // The stored bytes as received (the message is children's data: audited).
      std::string bytes = svc.store().read_message(positional[0]);
      svc.store().audit(admin_actor(), "viewed", positional[0], "raw message");
      std::fwrite(bytes.data(), 1, bytes.size(), stdout);
      return std::fflush(stdout) == 0 ? 0 : 1;
    }
    json d = svc.detail_unscoped(admin_actor(), positional[0]);
    if (as_json) {
      std::cout << d.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
      return 0;
    }
    std::printf(
        "id:          %s\nstate:       %s\nfrom:        %s\nsubject:     %s\ncategories:  %s\n",
        p(d["id"]).c_str(), p(d["state"]).c_str(), p(d["sender"]).c_str(), p(d["subject"]).c_str(),
        join(d["categories"].get<std::vector<std::string>>()).c_str());
    if (!d["route"].get<std::string>().empty())
      std::printf("routed:      %s\n", p(d["route"]).c_str());
    if (!d["claim"].get<std::string>().empty())
      std::printf("claimed:     %s by %s\n", p(d["claim"]).c_str(), p(d["claim_by"]).c_str());
    std::printf("recipients:\n");
    for (const auto& r : d["recipients_detail"])
      std::printf("  %s (%s%s) - %s\n", p(r["address"]).c_str(), p(r["label"]).c_str(),
                  r["released"].get<bool>() ? ", released"
                  : r["held"].get<bool>()   ? ", held"
                                            : "",
                  p(r["why"]).c_str());
    // Grouped by rule: the clause once, then where each piece of evidence was found.
    std::printf("findings:\n");
    std::vector<std::string> order;
    std::map<std::string, std::vector<const json*>> by_rule;
    for (const auto& f : d["findings_detail"]) {
      std::string rule = f["rule"].get<std::string>();
      if (!by_rule.count(rule)) order.push_back(rule);
      by_rule[rule].push_back(&f);
    }
    for (const auto& rule : order) {
      const json& first = *by_rule[rule].front();
      std::printf("  %s [%s]\n", p(rule).c_str(), p(first["category"]).c_str());
      for (const json* f : by_rule[rule]) std::printf("    in %s\n", p((*f)["origin"]).c_str());
      std::printf("    \"%s\"\n", p(first["clause"]).c_str());
    }
    for (const auto& a : d["attachments"])
      std::printf("attachment:  %s (%s), %d finding(s)\n", p(a["name"]).c_str(),
                  p(a["type"]).c_str(), a["findings"].get<int>());
    return 0;
  }
  if (cmd == "release") {
    if (!need_id()) return 2;
    try {
      json r = svc.release(admin_actor(), positional[0],
                           to.empty() ? std::nullopt : std::optional<std::vector<std::string>>(to),
                           note);
      std::printf("released %s to %s%s\n", p(positional[0]).c_str(),
                  join(r["released_to"].get<std::vector<std::string>>()).c_str(),
                  r["fully_released"].get<bool>() ? "" : " (other recipients still held)");
      return 0;
    } catch (const ReleaseFailed& e) {
      std::fprintf(stderr, "policyctl: %s\n", p(e.what()).c_str());
      return 1;
    }
  }
  if (cmd == "refuse") {
    if (!need_id()) return 2;
    svc.refuse(admin_actor(), positional[0], note);
    std::printf("refused %s; the sender has been told\n", p(positional[0]).c_str());
    return 0;
  }
  if (cmd == "delete") {
    if (!need_id()) return 2;
    svc.store().remove(positional[0], admin_actor(), note);
    std::printf("deleted %s\n", p(positional[0]).c_str());
    return 0;
  }
  if (cmd == "purge") {
    auto n = svc.send_notices(now);
    auto r = svc.retention(now);
    std::printf(
        "retention: %d undecided message(s) refused after %d days, %d decided message(s) purged "
        "after %d days; notices: %d to senders, %d to reviewers, %d failed\n",
        r.expired, svc.config().held_days, r.purged, svc.config().decided_days, n.sender_notices,
        n.reviewer_notices, n.failures + r.failures);
    return n.failures + r.failures ? 1 : 0;
  }
  if (cmd == "notify") {
    // Every pending notice once, whichever process runs (the timer's unit, policy-review):
    // each is claimed in the store before it is sent.
    auto n = svc.send_notices(now, digest);
    std::printf(
        "notices: %d to senders, %d to reviewers, %d escalated, %d queued sent, %d failed\n",
        n.sender_notices, n.reviewer_notices, n.escalations, n.outbox, n.failures);
    return n.failures ? 1 : 0;
  }
  std::fputs(kUsage, stderr);
  return 2;
}

}  // namespace

std::optional<int> help_or_load(const char* usage, const std::filesystem::path& config,
                                const Args& args, ReviewConfig& out) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    std::fputs(usage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  return load_or_report(config, out);
}

std::optional<int> load_or_report(const std::filesystem::path& config, ReviewConfig& out) {
  try {
    out = load_review_config(config);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "policyctl: %s\n", p(e.what()).c_str());
    return 2;
  }
  return std::nullopt;
}

void review_warnings(const std::filesystem::path& config, std::ostream& err) {
  try {
    ReviewConfig cfg = load_review_config(config);
    if (!cfg.public_url_set)
      err << "warning: [review] public_url is not set: reviewer notices link to " << cfg.public_url
          << ", which works only on this machine\n";
  } catch (const std::exception&) {
    // policyctl status reports configuration problems itself.
  }
}

int quarantine(const std::filesystem::path& config, const Args& args) {
  ReviewConfig cfg;
  if (auto rc = help_or_load(kUsage, config, args, cfg)) return *rc;
  try {
    auto store = open_store(cfg.store);
    UserStore users(cfg.users_db);
    ReviewService svc(cfg, *store, users);
    return run(svc, args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "policyctl: %s\n", printable(e.what()).c_str());
    return 1;
  }
}

}  // namespace pm::cli
