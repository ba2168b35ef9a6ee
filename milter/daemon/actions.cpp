#include "daemon/actions.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <mutex>
#include <thread>

#include "daemon/outgoing.h"
#include "notify/smtp.h"
#include "util/strings.h"

namespace pm {

const char* to_string(Outcome o) {
  switch (o) {
    case Outcome::accept: return "accept";
    case Outcome::tag: return "tag";
    case Outcome::quarantine: return "quarantine";
    case Outcome::split: return "split";
  }
  return "accept";
}

namespace {

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

// Keeps header values to safe id characters, so nothing odd reaches a header.
std::string id_only(std::string_view s) {
  std::string out;
  for (char c : s)
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' || c == ':')
      out.push_back(c);
  return out;
}

}  // namespace

ActionPlan plan_actions(const Verdict& v, const std::vector<std::string>& rcpt_args,
                        const std::vector<std::string>& rcpts, bool split) {
  ActionPlan plan;
  for (const Finding& f : v.findings) {
    std::string id = id_only(f.rule);
    if (!id.empty() && std::find(plan.rules.begin(), plan.rules.end(), id) == plan.rules.end())
      plan.rules.push_back(id);
  }
  Action delivered_action = v.action;
  // A probable misaddress alone (no category) is held for the lookalike recipients only:
  // the others get the message whatever split_recipients says.
  split = split || (v.categories.empty() && std::find(v.notes.begin(), v.notes.end(),
                                                      "probable-misaddress") != v.notes.end());
  if (v.action == Action::quarantine) {
    if (split) {
      // Which recipients the engine holds; a recipient it did not judge is held too.
      for (std::size_t i = 0; i < rcpt_args.size(); ++i) {
        const std::string& addr = i < rcpts.size() ? rcpts[i] : rcpt_args[i];
        auto rv = std::find_if(v.recipients.begin(), v.recipients.end(),
                               [&](const RecipientVerdict& r) { return iequals(r.address, addr); });
        if (rv == v.recipients.end() || rv->action == Action::quarantine)
          plan.held.push_back(rcpt_args[i]);
        else
          plan.delivered.push_back(rcpt_args[i]);
      }
      delivered_action = Action::accept;
      for (const RecipientVerdict& r : v.recipients)
        if (r.action != Action::quarantine) delivered_action = max(delivered_action, r.action);
    } else {
      plan.held = rcpt_args;
    }
    if (plan.delivered.empty()) {
      plan.outcome = Outcome::quarantine;
      plan.held = rcpt_args;
      return plan;  // discarded: no headers to add
    }
    plan.outcome = Outcome::split;
  } else {
    plan.delivered = rcpt_args;
    plan.outcome = v.action == Action::tag ? Outcome::tag : Outcome::accept;
  }

  // Monitor mode for the whole filter: mail is delivered untouched - no header leaves.
  if (v.monitor_all) return plan;
  // Categories in monitor mode are not named in headers that leave the school.
  auto shown = [&](const std::string& cat) {
    return std::find(v.monitored.begin(), v.monitored.end(), cat) == v.monitored.end();
  };
  std::vector<std::string> header_rules;
  for (const Finding& f : v.findings) {
    std::string id = id_only(f.rule);
    if (shown(f.category) && !id.empty() &&
        std::find(header_rules.begin(), header_rules.end(), id) == header_rules.end())
      header_rules.push_back(id);
  }
  std::string verdict = plan.outcome == Outcome::split
                            ? std::string(to_string(delivered_action)) + "; held=" + std::to_string(plan.held.size())
                            : std::string(to_string(v.action));
  if (!v.snapshot.empty()) verdict += "; snapshot=" + id_only(v.snapshot);
  std::vector<std::string> notes;
  for (const auto& n : v.notes) notes.push_back(id_only(n));
  if (!notes.empty()) verdict += "; notes=" + join(notes, ",");
  plan.add_headers.emplace_back("X-Policy-Verdict", verdict);
  if (plan.outcome != Outcome::accept && !v.categories.empty()) {
    std::vector<std::string> cats;
    for (const auto& c : v.categories)
      if (shown(c)) cats.push_back(id_only(c));
    if (!cats.empty()) plan.add_headers.emplace_back("X-Policy-Categories", join(cats, ", "));
  }
  if (plan.outcome != Outcome::accept && !header_rules.empty())
    plan.add_headers.emplace_back("X-Policy-Rules", join(header_rules, ", "));
  return plan;
}

bool is_policy_header(std::string_view name) { return istarts_with(name, "x-policy-"); }

void ForgedHeaders::seen(std::string_view name) {
  if (!is_policy_header(name)) return;
  for (auto& [n, count] : names_)
    if (iequals(n, name)) {
      ++count;
      return;
    }
  names_.emplace_back(std::string(name), 1);
}

std::vector<std::pair<std::string, int>> ForgedHeaders::deletions() const {
  std::vector<std::pair<std::string, int>> out;
  for (const auto& [n, count] : names_)
    for (int i = count; i >= 1; --i) out.emplace_back(n, i);
  return out;
}

// ---- The put path ------------------------------------------------------------------------

QuarantineInput quarantine_input(const ActionPlan& plan, const Verdict& v,
                                 const std::string& sender, const std::vector<std::string>& rcpts,
                                 const std::string& queue_id, std::string_view raw,
                                 std::string verdict_json) {
  QuarantineInput in;
  in.queue_id = queue_id;
  in.sender = sender;
  in.recipients = rcpts;
  for (const auto& h : plan.held) in.held_recipients.push_back(bare_address(h));
  in.subject = v.subject;
  in.categories = v.categories;
  in.rules = plan.rules;
  in.action = to_string(plan.outcome);
  in.snapshot = v.snapshot;
  in.verdict_json = std::move(verdict_json);
  in.digest = message_digest(sender, rcpts, raw, queue_id);
  in.school = v.school;  // the reviewers of this school see it (issue 15)
  return in;
}

namespace {

void log_health(const StoreHealth& h) {
  if (h.reindexed)
    spdlog::warn(
        "quarantine: {} message files were not in the index and were re-indexed (held for review)",
        h.reindexed);
  auto ids = [](const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
    return out;
  };
  if (h.orphans)
    spdlog::error(
        "quarantine: {} message files are in no index and have no envelope to re-index them "
        "(ids {}{}): look at them and re-send or delete them (README, \"The quarantine store\")",
        h.orphans, ids(h.orphan_ids), h.orphans > h.orphan_ids.size() ? ",..." : "");
  if (h.missing)
    spdlog::error("quarantine: {} held messages have lost their message file (ids {}{})", h.missing,
                  ids(h.missing_ids), h.missing > h.missing_ids.size() ? ",..." : "");
}

// Mails the admin about a stopped quarantine, off the milter's thread (a slow or absent
// reinjection listener must not hold up the answer to Postfix).
void alert_admin(const DaemonConfig& cfg, const std::string& problem) {
  if (cfg.quarantine_alert_to.empty()) {
    spdlog::warn("quarantine: no [quarantine].alert_to, nobody is mailed about the stop");
    return;
  }
  char host[256] = "this server";
  ::gethostname(host, sizeof host - 1);
  const bool pg = cfg.quarantine_backend == "postgresql";
  std::string body =
      std::string(pg ? "The PostgreSQL quarantine, as seen from " : "The quarantine index on ") +
      host + " cannot be used:\n\n  " + problem +
      "\n\nUntil it is repaired, every message the policy would hold is deferred (the sender's "
      "mail program retries; nothing is lost and nothing goes out unchecked). Mail that is "
      "not held is delivered as usual.\n\n" +
      (pg ? std::string("To repair: make the database server reachable and writable again "
                        "(and its schema current: `policyctl store migrate`). policy-milter "
                        "tries it on every held message and resumes by itself.\n")
          : "To repair: move " + (cfg.quarantine_dir / "index.sqlite").string() +
                " (and its -wal and -shm files) aside or restore a backup there. policy-milter "
                "notices the new file, rebuilds the index from the message files and starts "
                "quarantining again. `policyctl status` shows the state.\n");
  // A plain ASCII notice (the problem is SQLite's or the store's message: ids and paths,
  // never message content).
  char date[64];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  std::string to;
  for (const auto& a : cfg.quarantine_alert_to) to += (to.empty() ? "" : ", ") + a;
  std::string data = std::string("Date: ") + date + "\r\nFrom: " + cfg.alert_from +
                     "\r\nTo: " + to +
                     "\r\nSubject: policy-milter: quarantine stopped - held mail is being deferred"
                     "\r\nMessage-ID: <quarantine-stopped." +
                     std::to_string(now) + "." + std::to_string(::getpid()) + "@" + host +
                     ">\r\nAuto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n\r\n";
  for (char c : body) {
    if (c == '\n')
      data += "\r\n";
    else
      data.push_back(c);
  }
  SmtpEnvelope env{cfg.alert_from, cfg.quarantine_alert_to};
  std::string via = cfg.alert_smtp;
  std::thread([via, env, data] {
    try {
      smtp_send(parse_smtp_endpoint(via), env, data, 30);
      spdlog::info("quarantine: admin alerted ({} recipients)", env.rcpts.size());
    } catch (const std::exception& e) {
      spdlog::error("quarantine: could not mail the admin alert: {}", e.what());
    }
  }).detach();
}

// What has been reported already: a problem once, each recovery once.
struct Reported {
  std::mutex mu;
  std::string problem;
  std::size_t events = 0;
};
Reported& reported() {
  static Reported r;
  return r;
}

void report_changes(QuarantineBackend& store, const DaemonConfig& cfg) {
  StoreHealth h = store.health();
  Reported& r = reported();
  std::lock_guard lock(r.mu);
  for (std::size_t i = r.events; i < h.events.size(); ++i)
    spdlog::warn("quarantine: {}", h.events[i]);
  r.events = h.events.size();
  if (!h.ok && h.problem != r.problem) {
    spdlog::critical("quarantine: STOPPED, held mail is deferred until the index is repaired: {}",
                     h.problem);
    alert_admin(cfg, h.problem);
  }
  if (h.ok && !r.problem.empty())
    spdlog::warn("quarantine: index usable again, quarantining resumed");
  r.problem = h.ok ? "" : h.problem;
}

}  // namespace

StoreConfig store_config(const DaemonConfig& cfg) {
  StoreConfig sc;
  sc.backend = cfg.quarantine_backend;
  sc.dir = cfg.quarantine_dir;
  sc.dsn = cfg.quarantine_dsn;
  sc.put.put_timeout = std::chrono::milliseconds(cfg.quarantine_put_timeout_ms);
  sc.put.integrity_check = cfg.quarantine_integrity_check;
  sc.pg_connections = cfg.quarantine_pg_connections;
  sc.pg_query_timeout = std::chrono::milliseconds(cfg.quarantine_pg_query_timeout_ms);
  return sc;
}

std::unique_ptr<QuarantineBackend> open_quarantine(const DaemonConfig& cfg) {
  auto store = open_store_for_put(store_config(cfg));
  spdlog::info("quarantine: {}", store->describe());
  StoreHealth h = store->health();
  log_health(h);
  {
    Reported& r = reported();
    std::lock_guard lock(r.mu);
    r.events = h.events.size();
  }
  if (!h.ok) report_changes(*store, cfg);
  return store;
}

std::string hold_message(QuarantineBackend& store, const DaemonConfig& cfg, std::string_view raw,
                         const QuarantineInput& in) {
  try {
    std::string id = store.put(raw, in);
    report_changes(store, cfg);
    return id;
  } catch (const StoreError&) {
    report_changes(store, cfg);
    throw;
  }
}

}  // namespace pm
