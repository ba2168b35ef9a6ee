// What the running daemon shares between its threads: the current snapshot (engine +
// daemon configuration), the quarantine store, the scan workers, the memory budget and the
// stats. Workers, budget and connection limits are sized at start (a reload keeps them).
//
// The snapshot is an atomic shared_ptr: a message takes it at MAIL FROM and keeps it to the
// end, so a reload (which builds a new snapshot and swaps it in) never changes the rules
// under a message in flight; the old snapshot is freed when its last message finishes.
// Thread safety: everything here is safe to use from any thread.
#pragma once

#include <atomic>
#include <memory>

#include "daemon/config.h"
#include "daemon/memory_budget.h"
#include "daemon/scan_pool.h"
#include "daemon/stats.h"
#include "engine/engine.h"
#include "quarantine/open_store.h"

namespace pm {

struct Snapshot {
  std::shared_ptr<const Engine> engine;
  std::shared_ptr<const DaemonConfig> config;
};

struct Runtime {
  std::atomic<std::shared_ptr<const Snapshot>> snapshot;
  std::unique_ptr<QuarantineBackend> store;  // quarantine/open_store.h
  Stats stats;
  std::unique_ptr<MemoryBudget> budget;  // before pool: queued scans hold reservations
  std::unique_ptr<ScanPool> pool;

  std::shared_ptr<const Snapshot> current() const { return snapshot.load(); }
};

// The libmilter side (milter.cpp, the only file that includes libmilter).
// Registers the callbacks, sets the connection limits of `config` and opens `socket`;
// returns false (and logs why) on failure.
bool milter_open(Runtime& runtime, const std::string& socket, const DaemonConfig& config);
// Runs libmilter's accept loop until smfi_stop() or SIGTERM/SIGINT; blocks.
int milter_run();
// Asks the accept loop to stop (libmilter finishes open sessions first).
void milter_stop();

}  // namespace pm
