// QuarantineStore::PutSide - the daemon's half of the store (store_put.cpp): writing held
// mail, the committer that groups concurrent rows into one transaction, the check that the
// open index is still the file on disk, recovery when it is not, start-up reconciliation
// and the integrity state. Private to pm_quarantine.
//
// Threads: put() runs on the milter's threads and only touches `mu` (queue, in-flight ids)
// and `health_mu`; everything on `db` and the index's identity belongs to the committer
// thread (or to open_for_put() before that thread starts). The committer takes the store's
// own mutex only to swap the store's connection during a recovery.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "quarantine/store.h"

namespace pm {
namespace store_detail {

// One put() waiting for its row.
struct PendingPut {
  std::string id;
  QuarantineInput in;  // a copy: the committer may still use it after put() gave up
  std::int64_t received_at = 0;
  std::uint64_t size = 0;
  std::chrono::steady_clock::time_point deadline;
  enum class State { queued, committing, done, failed } state = State::queued;
  bool abandoned = false;  // put() returned (timeout); the committer cleans up
  std::string result_id;   // the id stored (another one's for a duplicate)
  std::string error;
  bool corrupt = false;
};

}  // namespace store_detail

struct QuarantineStore::PutSide {
  using Clock = std::chrono::steady_clock;

  using Pending = store_detail::PendingPut;

  PutSide(QuarantineStore& store, PutSettings settings);
  ~PutSide();

  std::string put(std::string_view message, const QuarantineInput& in, Clock::time_point deadline);
  StoreHealth reconcile(bool startup);
  StoreHealth health() const;
  void integrity_check();

  // committer thread
  void run();
  void commit_batch(std::vector<std::shared_ptr<Pending>>& batch);
  bool commit_once(std::vector<std::shared_ptr<Pending>>& batch, Clock::time_point deadline);
  void insert_row(Pending& p);
  bool index_usable();  // identity and header checks; recovers a moved index
  bool same_file() const;
  void recover();
  void open_connection();
  void close_connections();
  std::size_t merge_from(const std::filesystem::path& old_index);
  void set_corrupt(const std::string& problem);
  void note_event(const std::string& event);
  void write_health_file() const;  // caller holds health_mu
  void remove_files(const std::string& id) const;

  QuarantineStore& store;
  const PutSettings settings;
  const std::filesystem::path index_path;

  std::unique_ptr<sqlite3, DbCloser> db;  // the put connection (committer)
  dev_t dev = 0;
  ino_t ino = 0;

  std::mutex mu;
  std::condition_variable work_cv, done_cv;
  std::deque<std::shared_ptr<Pending>> queue;
  std::set<std::string> inflight;  // ids whose files exist but whose row is not settled
  bool stop = false;
  std::thread committer;

  mutable std::mutex health_mu;
  StoreHealth state;
  dev_t corrupt_dev = 0;  // the file found corrupt: put() refuses at once while it is there
  ino_t corrupt_ino = 0;
};

}  // namespace pm
