// store_bench DIR [THREADS=1] [COUNT=2000] [BYTES=4096]
// Puts COUNT distinct held messages of BYTES each into a fresh store in DIR from THREADS
// threads (each put as the daemon does it: digest, message file fsync'ed, directory
// fsync'ed, row committed in WAL with synchronous=FULL, grouped with concurrent puts) and
// prints msg/s and the put latency percentiles. DIR is removed first and afterwards.
// DIR "postgresql:DSN" (issue 15): the same puts into the PostgreSQL store at DSN (an empty
// database: its schema is migrated first; bench/store/pg_run.sh makes one per run).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "quarantine/pg_store.h"
#include "quarantine/store.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: store_bench DIR [THREADS] [COUNT] [BYTES]\n");
    return 2;
  }
  const std::string target = argv[1];
  const bool pg = target.rfind("postgresql:", 0) == 0;
  std::filesystem::path dir = pg ? std::filesystem::path() : std::filesystem::path(target);
  int threads = argc > 2 ? std::stoi(argv[2]) : 1;
  int count = argc > 3 ? std::stoi(argv[3]) : 2000;
  std::size_t bytes = argc > 4 ? std::stoul(argv[4]) : 4096;
  if (!pg) std::filesystem::remove_all(dir);
  using Clock = std::chrono::steady_clock;
  std::vector<double> ms(static_cast<std::size_t>(count));
  double wall = 0;
  {
    std::unique_ptr<pm::QuarantineBackend> store;
    if (pg) {
      pm::StoreConfig sc;
      sc.backend = "postgresql";
      sc.dsn = target.substr(11);
      sc.pg_connections = static_cast<unsigned>(threads);
      pm::PgQuarantineStore::migrate(sc);
      store = std::make_unique<pm::PgQuarantineStore>(sc);
    } else {
      store = pm::QuarantineStore::open_for_put(dir, pm::PutSettings{});
    }
    std::string body(bytes, 'x');
    for (std::size_t i = 0; i < body.size(); i += 73) body[i] = '\n';
    auto t0 = Clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        for (int i = t; i < count; i += threads) {
          std::string msg = "Received: from pc by mx (Postfix) with ESMTP id 4QBENCH" +
                            std::to_string(i) + "\r\nSubject: held " + std::to_string(i) +
                            "\r\n\r\n" + body;
          pm::QuarantineInput in;
          in.queue_id = "4QBENCH" + std::to_string(i);
          in.sender = "a.teacher@stannes.example";
          in.recipients = in.held_recipients = {"parent.one@gmail.com"};
          in.subject = "held";
          in.categories = {"confidential"};
          in.rules = {"confidential.dob-with-name"};
          in.action = "quarantine";
          in.verdict_json = R"({"action":"quarantine","findings":[]})";
          auto s = Clock::now();
          in.digest = pm::message_digest(in.sender, in.recipients, msg, in.queue_id);
          store->put(msg, in);
          ms[static_cast<std::size_t>(i)] =
              std::chrono::duration<double, std::milli>(Clock::now() - s).count();
        }
      });
    for (auto& p : pool) p.join();
    wall = std::chrono::duration<double>(Clock::now() - t0).count();
    if (store->count() != static_cast<std::size_t>(count)) {
      std::fprintf(stderr, "store_bench: %zu rows for %d puts\n", store->count(), count);
      return 1;
    }
  }
  if (pg) {
    std::sort(ms.begin(), ms.end());
    auto pct = [&](double p) { return ms[static_cast<std::size_t>(p * (ms.size() - 1))]; };
    std::printf(
        "%-28s threads=%d count=%d bytes=%zu  %7.0f msg/s  put p50 %.2f ms  p95 %.2f  p99 %.2f"
        "  max %.2f\n",
        "postgresql", threads, count, bytes, count / wall, pct(0.5), pct(0.95), pct(0.99),
        ms.back());
    return 0;
  }
  // The disk's floor right now: one new 4 KB file written and fsync'ed (one journal
  // commit on ext4), 200 times - what a put cannot go below.
  std::vector<double> floor_ms;
  std::filesystem::create_directories(dir);
  for (int i = 0; i < 200; ++i) {
    std::string p = (dir / ("floor-" + std::to_string(i))).string();
    auto s = Clock::now();
    int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ::write(fd, std::string(4096, 'x').data(), 4096) != 4096 || ::fsync(fd) != 0)
      return 1;
    ::close(fd);
    floor_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
    ::unlink(p.c_str());
  }
  std::sort(floor_ms.begin(), floor_ms.end());
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) { return ms[static_cast<std::size_t>(p * (ms.size() - 1))]; };
  std::printf(
      "%-28s threads=%d count=%d bytes=%zu  %7.0f msg/s  put p50 %.2f ms  p95 %.2f  p99 %.2f"
      "  max %.2f  (disk floor, new file + fsync: p50 %.2f ms)\n",
      dir.parent_path().c_str(), threads, count, bytes, count / wall, pct(0.5), pct(0.95),
      pct(0.99), ms.back(), floor_ms[100]);
  std::filesystem::remove_all(dir);
  return 0;
}
