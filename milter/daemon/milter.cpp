// libmilter callbacks: a thin adapter from Postfix's milter phases onto MessageBuilder,
// Engine::scan, the action plan and the quarantine store. The only file that includes
// libmilter. No exception leaves a callback: each one catches and answers on_error.
//
// Round trips: xxfi_negotiate asks Postfix for no reply to connect, MAIL, RCPT, each header
// and each body chunk (their answer is always "continue"; a failure there is remembered
// and answered at end of message), skips HELO, DATA and unknown commands, and asks only for
// the macros used ({auth_authen} at MAIL, i at end of message). What is left per message:
// end of headers (incoming mail is accepted there) and end of message, whose header
// changes and answer go out in one write (milter_io.h).
#include <arpa/inet.h>
#include <libmilter/mfapi.h>
#include <malloc.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

#include "daemon/actions.h"
#include "daemon/milter_io.h"
#include "daemon/misaddress.h"
#include "daemon/outgoing.h"
#include "daemon/runtime.h"
#include "engine/config.h"
#include "engine/verdict_json.h"
#include "message/message_builder.h"
#include "util/error.h"
#include "util/strings.h"

namespace pm {
namespace {

Runtime* g_runtime = nullptr;  // set once by milter_open(), before any callback runs

using Clock = std::chrono::steady_clock;

// One scan, run by a worker of the pool so the callback thread can send smfi_progress and
// give up at the time budget. The job owns the message bytes and its memory reservation:
// if the time budget runs out the callback returns and the scan finishes (and frees the
// job and the reservation) on the worker.
struct ScanJob {
  MessageBuilder builder;
  std::string_view raw;
  Envelope envelope;
  std::shared_ptr<const Engine> engine;
  MemoryBudget::Reservation reservation;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::optional<Verdict> verdict;
  std::string error;
};

// State of the message in progress on a connection.
struct MessageState {
  std::shared_ptr<const Snapshot> snap;
  bool outgoing = false;
  bool failed = false;  // a phase failed (e.g. spill file): answer on_error at eom
  std::string failure;
  std::string sender;
  std::vector<std::string> rcpt_args, rcpts;
  std::unique_ptr<MessageBuilder> builder;
  ForgedHeaders forged;
};

struct Connection {
  ClientInfo client;
  std::optional<MessageState> msg;
  bool connect_failed = false;  // answered at end of message (connect has no reply)
};

Connection* conn_of(SMFICTX* ctx) {
  return static_cast<Connection*>(smfi_getpriv(ctx));
}

std::string symval(SMFICTX* ctx, const char* name) {
  const char* v = smfi_getsymval(ctx, const_cast<char*>(name));
  return v ? std::string(v) : std::string();
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out.empty() ? "-" : out;
}

void strip_forged(SMFICTX* ctx, const ForgedHeaders& forged) {
  for (const auto& [name, index] : forged.deletions())
    if (smfi_chgheader(ctx, const_cast<char*>(name.c_str()), index, nullptr) != MI_SUCCESS)
      spdlog::warn("could not remove forged header {}[{}]", name, index);
}

// The configured answer when the filter itself fails: never lets mail through unchecked
// unless the school chose on_error = "accept".
sfsistat on_error(SMFICTX* ctx, const DaemonConfig* cfg) {
  OnError e = cfg ? cfg->on_error : OnError::tempfail;
  switch (e) {
    case OnError::reject:
      smfi_setreply(
          ctx, const_cast<char*>("550"), const_cast<char*>("5.7.1"),
          const_cast<char*>("Message could not be checked against the school's mail policy"));
      return SMFIS_REJECT;
    case OnError::accept:
      smfi_addheader(ctx, const_cast<char*>("X-Policy-Verdict"),
                     const_cast<char*>("unchecked; error"));
      return SMFIS_ACCEPT;
    case OnError::tempfail:
      break;
  }
  smfi_setreply(
      ctx, const_cast<char*>("451"), const_cast<char*>("4.7.1"),
      const_cast<char*>("Mail policy check temporarily unavailable, please try again later"));
  return SMFIS_TEMPFAIL;
}

// The steps this filter answers with something other than "continue" (end of headers,
// end of message) keep their reply; the others are asked not to send one.
constexpr unsigned long kNoReply =
    SMFIP_NR_CONN | SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_HDR | SMFIP_NR_BODY;
constexpr unsigned long kSkipped = SMFIP_NOHELO | SMFIP_NOUNKNOWN | SMFIP_NODATA;

sfsistat cb_negotiate(SMFICTX* ctx, unsigned long f0, unsigned long f1, unsigned long,
                      unsigned long, unsigned long* pf0, unsigned long* pf1, unsigned long* pf2,
                      unsigned long* pf3) {
  try {
    *pf0 = (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_DELRCPT) & f0;
    // libmilter answers "continue" itself for a no-reply step the MTA does not offer.
    *pf1 = kNoReply | (kSkipped & f1);
    *pf2 = *pf3 = 0;
    if (f0 & SMFIF_SETSYMLIST) {
      *pf0 |= SMFIF_SETSYMLIST;
      smfi_setsymlist(ctx, SMFIM_ENVFROM, const_cast<char*>("{auth_authen}"));
      smfi_setsymlist(ctx, SMFIM_EOM, const_cast<char*>("i"));
    }
    smfi_setpriv(ctx, new Connection());
    gate_session_opened();
    return SMFIS_CONTINUE;
  } catch (...) {
    return SMFIS_REJECT;  // libmilter closes the connection; Postfix applies its default
  }
}

sfsistat cb_connect(SMFICTX* ctx, char* hostname, _SOCK_ADDR* hostaddr) {
  Connection* conn = conn_of(ctx);
  if (!conn) return SMFIS_NOREPLY;
  try {
    if (hostaddr == nullptr) {
      conn->client.local = true;
    } else {
      char buf[INET6_ADDRSTRLEN] = {0};
      if (hostaddr->sa_family == AF_INET)
        ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(hostaddr)->sin_addr, buf, sizeof buf);
      else if (hostaddr->sa_family == AF_INET6)
        ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(hostaddr)->sin6_addr, buf,
                    sizeof buf);
      else
        conn->client.local = true;  // AF_UNIX: local submission
      conn->client.address = buf;
    }
  } catch (...) {
    conn->connect_failed = true;
  }
  return SMFIS_NOREPLY;
}

// MAIL, RCPT, headers and body chunks send no reply: a failure is kept in the message
// state and answered (on_error) at end of headers or end of message.
sfsistat cb_envfrom(SMFICTX* ctx, char** argv) {
  Connection* conn = conn_of(ctx);
  if (!conn) return SMFIS_NOREPLY;
  conn->msg.emplace();
  MessageState& m = *conn->msg;
  try {
    m.snap = g_runtime->current();
    if (conn->connect_failed) throw std::runtime_error("connect information lost");
    m.sender = bare_address(argv && argv[0] ? argv[0] : "");
    conn->client.auth_authen = symval(ctx, "{auth_authen}");
    m.outgoing = is_outgoing(conn->client, m.sender, *m.snap->config);
    if (m.outgoing)
      m.builder = std::make_unique<MessageBuilder>(
          BuilderOptions{m.snap->config->spill_bytes, m.snap->config->spill_dir});
  } catch (const std::exception& e) {
    m.outgoing = true;  // unknown: never let it pass unchecked
    m.failed = true;
    m.failure = std::string("envfrom: ") + e.what();
  }
  return SMFIS_NOREPLY;
}

sfsistat cb_envrcpt(SMFICTX* ctx, char** argv) {
  Connection* conn = conn_of(ctx);
  if (!conn || !conn->msg) return SMFIS_NOREPLY;  // end of message answers on_error
  try {
    std::string arg = argv && argv[0] ? argv[0] : "";
    conn->msg->rcpts.push_back(bare_address(arg));
    conn->msg->rcpt_args.push_back(std::move(arg));
  } catch (const std::exception& e) {
    conn->msg->failed = true;
    conn->msg->failure = std::string("envrcpt: ") + e.what();
  }
  return SMFIS_NOREPLY;
}

sfsistat cb_header(SMFICTX* ctx, char* name, char* value) {
  Connection* conn = conn_of(ctx);
  if (!conn || !conn->msg) return SMFIS_NOREPLY;
  MessageState& m = *conn->msg;
  try {
    m.forged.seen(name ? name : "");
    if (m.outgoing && !m.failed) m.builder->header(name ? name : "", value ? value : "");
  } catch (const std::exception& e) {
    m.failed = true;
    m.failure = e.what();
  }
  return SMFIS_NOREPLY;
}

sfsistat cb_eoh(SMFICTX* ctx) {
  Connection* conn = conn_of(ctx);
  if (!conn || !conn->msg) return SMFIS_TEMPFAIL;
  MessageState& m = *conn->msg;
  // Mail that is not outgoing passes untouched - unless it carries forged X-Policy-*
  // headers, which are removed at end of message so no one can fake a verdict.
  if (!m.outgoing && !m.failed) return m.forged.any() ? SMFIS_CONTINUE : SMFIS_ACCEPT;
  try {
    if (!m.failed) m.builder->end_of_headers();
  } catch (const std::exception& e) {
    m.failed = true;
    m.failure = e.what();
  }
  return SMFIS_CONTINUE;
}

sfsistat cb_body(SMFICTX* ctx, unsigned char* chunk, size_t len) {
  Connection* conn = conn_of(ctx);
  if (!conn || !conn->msg) return SMFIS_NOREPLY;
  MessageState& m = *conn->msg;
  if (!m.outgoing || m.failed) return SMFIS_NOREPLY;
  try {
    m.builder->body(std::string_view(reinterpret_cast<const char*>(chunk), len));
  } catch (const std::exception& e) {
    m.failed = true;
    m.failure = e.what();
  }
  return SMFIS_NOREPLY;
}

// Runs the scan on the worker pool with the per-message time budget; smfi_progress keeps
// Postfix waiting. `reservation` (the message's share of the memory budget) travels with
// the job and is returned when the scan ends.
std::optional<Verdict> scan_with_budget(SMFICTX* ctx, MessageState& m,
                                        std::shared_ptr<ScanJob>& job,
                                        MemoryBudget::Reservation reservation, std::string& error) {
  job = std::make_shared<ScanJob>();
  job->builder = std::move(*m.builder);
  job->raw = job->builder.finish();
  job->envelope.sender = m.sender;
  job->envelope.recipients = m.rcpts;
  job->engine = m.snap->engine;
  job->reservation = std::move(reservation);
  const std::size_t trim_above = m.snap->config->large_message_bytes;
  g_runtime->pool->submit(job->raw.size(), [job, trim_above] {
    std::optional<Verdict> v;
    std::string err;
    try {
      v = job->engine->scan(job->raw, &job->envelope);
    } catch (const std::exception& e) {
      err = e.what();
    } catch (...) {
      err = "unknown engine failure";
    }
    const bool large = job->raw.size() >= trim_above;
    {
      std::lock_guard lock(job->mu);
      job->verdict = std::move(v);
      job->error = std::move(err);
      job->done = true;
      job->cv.notify_all();
    }
    // The scan's working memory is freed by now (the verdict keeps the segments); give
    // a large message's back to the system before its reservation is returned.
    if (large) ::malloc_trim(0);
    job->reservation.release();
  });

  const auto deadline = Clock::now() + std::chrono::seconds(m.snap->config->scan_timeout_seconds);
  std::unique_lock lock(job->mu);
  while (!job->done) {
    auto now = Clock::now();
    if (now >= deadline) {
      error = "scan timeout";
      return std::nullopt;
    }
    auto step = std::min<Clock::duration>(std::chrono::seconds(5), deadline - now);
    if (!job->cv.wait_for(lock, step, [&] { return job->done; })) {
      lock.unlock();
      smfi_progress(ctx);
      lock.lock();
    }
  }
  if (!job->verdict) {
    error = job->error.empty() ? "engine failure" : job->error;
    return std::nullopt;
  }
  return std::move(job->verdict);
}

// Issue 13, after the plan and before the answer: each exception used is logged and
// counted; monitor mode's "would have acted" is counted and its evidence kept (never the
// message); a misaddress held for its lookalike recipients is told to the sender at once.
// A failure here is logged and never changes what happens to the mail.
void note_verdict(const DaemonConfig& cfg, const Engine& engine, const Verdict& v,
                  const ActionPlan& plan, const MessageState& m, const std::string& queue_id,
                  const std::string& stored_id) {
  const std::string q = queue_id.empty() ? "-" : queue_id;
  for (const AppliedException& e : v.exceptions) {
    spdlog::info("exception queue={} name={} from={} rcpt={} categories={} action={}", q, e.name,
                 m.sender, e.recipient, join(e.categories),
                 e.action == Action::accept ? "deliver" : to_string(e.action));
    g_runtime->stats.add_count("exceptions", e.name);
  }
  if (v.monitoring()) {
    g_runtime->stats.add_count("monitor", std::string("would_") + to_string(v.would_action));
    for (const auto& c : v.monitored) g_runtime->stats.add_count("monitor", "category:" + c);
    if (g_runtime->store) {
      try {
        MonitorInput mi;
        mi.queue_id = queue_id;
        mi.sender = m.sender;
        mi.recipients = m.rcpts;
        mi.subject = v.subject;
        mi.categories = v.categories;
        mi.rules = plan.rules;
        mi.would_action = to_string(v.would_action);
        mi.verdict_json = verdict_to_json(v, "");  // findings and evidence, no segments
        mi.school = v.school;
        g_runtime->store->record_monitor(mi);
      } catch (const std::exception& e) {
        g_runtime->stats.add_count("monitor", "record_failed");
        spdlog::error("msg queue={} monitor evidence not kept: {}", q, e.what());
      }
    }
  }
  if (!stored_id.empty() && plan.outcome == Outcome::split && v.categories.empty()) {
    std::vector<Misaddress> held;
    for (const auto& h : plan.held) {
      const std::string addr = bare_address(h);
      for (const auto& r : v.recipients)
        if (iequals(r.address, addr) && r.cls == RecipientClass::lookalike)
          held.push_back({addr, r.lookalike_of});
    }
    std::vector<std::string> delivered;
    for (const auto& d : plan.delivered) delivered.push_back(bare_address(d));
    if (!held.empty()) {
      g_runtime->stats.add_count("misaddress", "held");
      // The sender's own school names itself in the notice ([[schools]] name).
      notify_misaddress(*g_runtime->store, cfg, school_of(engine.config(), v.school).name, m.sender,
                        stored_id, std::move(held), std::move(delivered));
    }
  }
}

sfsistat finish_message(SMFICTX* ctx, Connection& conn) {
  MessageState& m = *conn.msg;
  const DaemonConfig& cfg = *m.snap->config;
  const auto t0 = Clock::now();
  const std::string queue_id = symval(ctx, "i");
  auto elapsed_us = [&] {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count());
  };
  auto log_failure = [&](const std::string& why) {
    spdlog::error("msg queue={} from={} rcpts={} action={} error=\"{}\" elapsed_ms={:.1f}",
                  queue_id.empty() ? "-" : queue_id, m.sender, m.rcpts.size(),
                  std::string("on_error:") + to_string(cfg.on_error), why, elapsed_us() / 1000.0);
    g_runtime->stats.record_message(cfg.on_error == OnError::accept   ? "error-accept"
                                    : cfg.on_error == OnError::reject ? "reject"
                                                                      : "tempfail",
                                    elapsed_us());
    return on_error(ctx, &cfg);
  };

  if (!m.outgoing) {
    begin_coalescing();
    strip_forged(ctx, m.forged);
    g_runtime->stats.record_message("pass", elapsed_us());
    return SMFIS_ACCEPT;
  }
  if (m.failed) return log_failure(m.failure);

  std::shared_ptr<ScanJob> job;
  std::string error;
  std::optional<Verdict> verdict;
  const std::size_t size = m.builder->size();
  MemoryBudget& budget = *g_runtime->budget;
  if (!budget.fits_ever(size)) {
    // Could never be scanned within the memory budget: unscannable (held or tagged by the
    // policy), so it is not deferred and retried for ever. Its bytes are not decoded.
    job = std::make_shared<ScanJob>();
    job->builder = std::move(*m.builder);
    job->raw = job->builder.finish();
    Envelope env{m.sender, m.rcpts};
    verdict = m.snap->engine->scan(job->raw, &env, "limit:memory_budget");
  } else {
    MemoryBudget::Reservation reservation = budget.reserve(size);
    if (!reservation) {
      // Does not fit now: defer this one (the MTA retries); smaller mail keeps passing.
      spdlog::warn("msg queue={} from={} rcpts={} action=tempfail reason=memory_budget bytes={}",
                   queue_id.empty() ? "-" : queue_id, m.sender, m.rcpts.size(), size);
      g_runtime->stats.record_message("tempfail-memory", elapsed_us());
      smfi_setreply(
          ctx, const_cast<char*>("451"), const_cast<char*>("4.3.1"),
          const_cast<char*>("Too much mail being checked at once, please try again later"));
      return SMFIS_TEMPFAIL;
    }
    verdict = scan_with_budget(ctx, m, job, std::move(reservation), error);
  }
  if (!verdict) return log_failure(error);

  ActionPlan plan = plan_actions(*verdict, m.rcpt_args, m.rcpts, cfg.split_recipients);
  std::string stored_id;
  if (plan.outcome == Outcome::quarantine || plan.outcome == Outcome::split) {
    if (!g_runtime->store) return log_failure("no quarantine store");
    try {
      QuarantineInput in =
          quarantine_input(plan, *verdict, m.sender, m.rcpts, queue_id, job->raw,
                           verdict_to_json(*verdict, "", JsonOptions{.segments = true}));
      stored_id = hold_message(*g_runtime->store, cfg, job->raw, in);
    } catch (const std::exception& e) {
      return log_failure(std::string("quarantine store: ") + e.what());
    }
  }

  note_verdict(cfg, *m.snap->engine, *verdict, plan, m, queue_id, stored_id);

  sfsistat answer = SMFIS_ACCEPT;
  if (plan.outcome == Outcome::quarantine) {
    answer = SMFIS_DISCARD;
  } else {
    begin_coalescing();  // the changes below and the answer: one write
    strip_forged(ctx, m.forged);
    for (const auto& h : plan.held)
      if (smfi_delrcpt(ctx, const_cast<char*>(h.c_str())) != MI_SUCCESS)
        return log_failure("delrcpt failed (message is stored, will be retried)");
    for (const auto& [name, value] : plan.add_headers)
      if (smfi_addheader(ctx, const_cast<char*>(name.c_str()), const_cast<char*>(value.c_str())) !=
          MI_SUCCESS)
        return log_failure("addheader failed");
  }
  std::uint64_t us = elapsed_us();
  g_runtime->stats.record_message(to_string(plan.outcome), us);
  // Several schools: messages per school id, and how many senders no school's staff domain
  // or staff-file row placed (the count only: the address is in the msg line as ever).
  if (!verdict->school.empty()) {
    g_runtime->stats.add_count("schools", verdict->school);
    if (verdict->school_guessed) g_runtime->stats.add_count("schools", "(unplaced)");
  }
  g_runtime->stats.record_verdict(*verdict, plan.rules);
  // One line per message: ids, counts, rule names - never content or evidence.
  spdlog::info(
      "msg queue={} from={} rcpts={} action={} categories={} rules={} held={} elapsed_ms={:.1f} "
      "scan_ms={:.1f}{}{}{}",
      queue_id.empty() ? "-" : queue_id, m.sender, m.rcpts.size(), to_string(plan.outcome),
      join(verdict->categories), join(plan.rules), plan.held.size(), us / 1000.0,
      verdict->elapsed_us / 1000.0, stored_id.empty() ? "" : " quarantine_id=" + stored_id,
      verdict->monitoring() ? std::string(" would_action=") + to_string(verdict->would_action) : "",
      verdict->school.empty() ? "" : " school=" + verdict->school);
  return answer;
}

sfsistat cb_eom(SMFICTX* ctx) {
  Connection* conn = conn_of(ctx);
  if (!conn || !conn->msg) return on_error(ctx, nullptr);
  sfsistat answer;
  try {
    answer = finish_message(ctx, *conn);
  } catch (const std::exception& e) {
    spdlog::error("end of message: {}", e.what());
    answer = on_error(ctx, conn->msg->snap ? conn->msg->snap->config.get() : nullptr);
  } catch (...) {
    answer = on_error(ctx, nullptr);
  }
  conn->msg.reset();  // next message on this connection starts clean
  return answer;
}

sfsistat cb_abort(SMFICTX* ctx) {
  if (Connection* conn = conn_of(ctx)) conn->msg.reset();
  return SMFIS_CONTINUE;
}

sfsistat cb_close(SMFICTX* ctx) {
  if (Connection* conn = conn_of(ctx)) {
    delete conn;
    smfi_setpriv(ctx, nullptr);
    gate_session_closed();
  }
  return SMFIS_CONTINUE;
}

}  // namespace

bool milter_open(Runtime& runtime, const std::string& socket, const DaemonConfig& config) {
  g_runtime = &runtime;
  static struct smfiDesc desc = {};
  desc.xxfi_name = const_cast<char*>("policy-milter");
  desc.xxfi_version = SMFI_VERSION;
  desc.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_DELRCPT;
  desc.xxfi_negotiate = cb_negotiate;
  desc.xxfi_connect = cb_connect;
  desc.xxfi_envfrom = cb_envfrom;
  desc.xxfi_envrcpt = cb_envrcpt;
  desc.xxfi_header = cb_header;
  desc.xxfi_eoh = cb_eoh;
  desc.xxfi_body = cb_body;
  desc.xxfi_eom = cb_eom;
  desc.xxfi_abort = cb_abort;
  desc.xxfi_close = cb_close;
  if (smfi_setconn(const_cast<char*>(socket.c_str())) != MI_SUCCESS) {
    spdlog::critical("bad milter socket '{}'", socket);
    return false;
  }
  // libmilter's I/O timeout: how long a connection may sit between commands.
  smfi_settimeout(static_cast<int>(config.idle_timeout_seconds));
  gate_configure({config.max_connections, config.handshake_timeout_seconds});
  if (smfi_register(desc) != MI_SUCCESS) {
    spdlog::critical("smfi_register failed");
    return false;
  }
  // A stale unix socket from a crashed run is removed (true).
  if (smfi_opensocket(true) != MI_SUCCESS) {
    spdlog::critical("cannot open milter socket '{}' (in use, or no permission?)", socket);
    return false;
  }
  if (gate_find_listener() < 0)
    spdlog::warn("connection gate: listening socket not found, limits off");
  return true;
}

int milter_run() {
  return smfi_main();
}

void milter_stop() {
  smfi_stop();
}

}  // namespace pm
