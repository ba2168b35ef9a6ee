#include "match/hs.h"

#include <fcntl.h>
#include <hs.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <thread>
#include <unordered_map>

#include <fstream>
#include <functional>
#include <sstream>

#include "util/error.h"

namespace pm {

void HsDatabases::DbDeleter::operator()(hs_database* db) const {
  hs_free_database(db);
}
void HsDatabases::ScratchDeleter::operator()(hs_scratch* s) const {
  hs_free_scratch(s);
}

namespace {

struct CompileErrorFree {
  void operator()(hs_compile_error_t* e) const { hs_free_compile_error(e); }
};
using CompileError = std::unique_ptr<hs_compile_error_t, CompileErrorFree>;

// "file:line" -> ConfigError
[[noreturn]] void refuse(const std::string& origin, const std::string& what) {
  auto colon = origin.rfind(':');
  std::string file = colon == std::string::npos ? origin : origin.substr(0, colon);
  int line = colon == std::string::npos ? 0 : std::atoi(origin.c_str() + colon + 1);
  throw ConfigError(file, line, what);
}

std::string cache_key(const std::vector<HsPattern>& patterns, const hs_platform_info_t& plat) {
  std::size_t h = std::hash<std::string>{}(hs_version());
  for (const auto& p : patterns)
    h = h * 1099511628211ULL ^
        std::hash<std::string>{}(p.expression + "#" + std::to_string(static_cast<int>(p.view)) +
                                 (p.need_start ? "s" : ""));
  std::ostringstream ss;
  ss << std::hex << h << "-" << plat.tune << "-" << plat.cpu_features;
  return ss.str();
}

std::string serialize(const hs_database_t* db) {
  char* bytes = nullptr;
  std::size_t len = 0;
  if (hs_serialize_database(db, &bytes, &len) != HS_SUCCESS) return {};
  std::string out(bytes, len);
  std::free(bytes);
  return out;
}

// A cached database file, mapped (empty when absent or unreadable): hs_deserialize_database
// copies it into its own memory anyway, so reading it into a buffer first was a second
// copy through the kernel plus fresh pages to fault in for ~17 MB of databases (issue 12).
struct Blob {
  void* map = MAP_FAILED;
  std::size_t size = 0;
  Blob() = default;
  Blob(const Blob&) = delete;
  Blob& operator=(const Blob&) = delete;
  ~Blob() {
    if (map != MAP_FAILED) ::munmap(map, size);
  }
  const char* data() const { return static_cast<const char*>(map); }
  bool empty() const { return map == MAP_FAILED || size == 0; }
};

void read_blob(const std::string& path, Blob& blob) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) {
    blob.size = static_cast<std::size_t>(st.st_size);
    blob.map = ::mmap(nullptr, blob.size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  }
  ::close(fd);
}

// The patterns' (min, max) widths, kept beside the cached databases: "count\n" then one
// "min max" line per pattern. Empty when absent or not for `count` patterns.
std::vector<std::pair<unsigned, unsigned>> read_widths(const std::filesystem::path& cache_file,
                                                       std::size_t count) {
  std::vector<std::pair<unsigned, unsigned>> w;
  if (cache_file.empty()) return w;
  std::ifstream in(cache_file.string() + ".widths");
  std::size_t n = 0;
  if (!(in >> n) || n != count) return w;
  w.reserve(n);
  unsigned lo, hi;
  while (w.size() < n && in >> lo >> hi) w.emplace_back(lo, hi);
  if (w.size() != n) w.clear();
  return w;
}

// Written last, after every database file, so its presence means they were all written.
void write_widths(const std::filesystem::path& cache_file,
                  const std::vector<std::pair<unsigned, unsigned>>& w) {
  if (cache_file.empty()) return;
  std::ostringstream ss;
  ss << w.size() << "\n";
  for (const auto& [lo, hi] : w) ss << lo << " " << hi << "\n";
  const std::string tmp = cache_file.string() + ".widths.tmp";
  std::ofstream o(tmp);
  std::error_code ec;
  if (o << ss.str() && (o.close(), true))
    std::filesystem::rename(tmp, cache_file.string() + ".widths", ec);
}

// Hyperscan's databases (~17 MB with the shipped rules) in their own mappings marked
// MADV_DONTFORK (issue 12): the isolated attachment readers are fork()ed children that
// never scan, and copying the page tables of the databases was the largest kernel cost of
// a scan with a legacy-Office attachment (copy_page_range, ~4 % of the engine's CPU).
// Small databases stay on the heap. A 64-byte header before the block keeps its size and
// kind for the free and the block 64-byte aligned (Hyperscan needs 8).
constexpr std::size_t kDbHeader = 64, kDbMapAbove = 64 * 1024;

void* db_alloc(std::size_t size) {
  const std::size_t total = size + kDbHeader;
  char* base = nullptr;
  bool mapped = false;
  if (total >= kDbMapAbove) {
    void* m = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m != MAP_FAILED) {
      ::madvise(m, total, MADV_DONTFORK);  // advice only: a failure costs the copy, no more
      base = static_cast<char*>(m);
      mapped = true;
    }
  }
  if (!base) {
    void* p = nullptr;
    if (::posix_memalign(&p, kDbHeader, total) != 0) return nullptr;
    base = static_cast<char*>(p);
  }
  auto* head = reinterpret_cast<std::size_t*>(base);
  head[0] = total;
  head[1] = mapped ? 1 : 0;
  return base + kDbHeader;
}

void db_free(void* p) {
  if (!p) return;
  char* base = static_cast<char*>(p) - kDbHeader;
  auto* head = reinterpret_cast<std::size_t*>(base);
  if (head[1])
    ::munmap(base, head[0]);
  else
    std::free(base);
}

// Set once, before the first database is made (every database comes from compile()).
void use_db_allocator() {
  static const bool once = [] {
    return hs_set_database_allocator(db_alloc, db_free) == HS_SUCCESS;
  }();
  (void)once;
}

}  // namespace

class HsDatabases::ScratchLease {
 public:
  explicit ScratchLease(const HsDatabases& dbs) : dbs_(dbs) {
    {
      std::lock_guard<std::mutex> lock(dbs_.pool_mutex_);
      if (!dbs_.pool_.empty()) {
        scratch_ = std::move(dbs_.pool_.back());
        dbs_.pool_.pop_back();
        return;
      }
    }
    hs_scratch_t* s = nullptr;
    if (hs_clone_scratch(dbs_.prototype_.get(), &s) != HS_SUCCESS)
      throw ScanError("hyperscan: cannot allocate scratch");
    scratch_.reset(s);
  }
  ~ScratchLease() {
    std::lock_guard<std::mutex> lock(dbs_.pool_mutex_);
    dbs_.pool_.push_back(std::move(scratch_));
  }
  hs_scratch_t* get() const { return scratch_.get(); }

 private:
  const HsDatabases& dbs_;
  ScratchPtr scratch_;
};

std::unique_ptr<HsDatabases> HsDatabases::compile(const std::vector<HsPattern>& patterns,
                                                  const std::filesystem::path& cache_dir) {
  use_db_allocator();
  std::unique_ptr<HsDatabases> out(new HsDatabases());
  out->widths_.assign(patterns.size(), -1);
  out->max_widths_.assign(patterns.size(), 512);
  out->bounded_.assign(patterns.size(), false);
  out->refine_.resize(patterns.size());
  std::vector<bool> needs_refine(patterns.size(), false);

  hs_platform_info_t plat{};
  hs_populate_platform(&plat);
  std::filesystem::path cache_file;
  if (!cache_dir.empty()) cache_file = cache_dir / ("rules-" + cache_key(patterns, plat) + ".hsdb");

  // Each pattern's width tells whether start-of-match is needed. On a cache hit the widths
  // are read back (the patterns were checked when the cache was written); otherwise every
  // pattern (and each piece of a merged one) is checked alone first, so the error names it.
  std::vector<std::pair<unsigned, unsigned>> widths = read_widths(cache_file, patterns.size());
  const bool cached = widths.size() == patterns.size();
  std::vector<unsigned> flags(patterns.size());
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    const auto& p = patterns[i];
    if (!cached) {
      for (const auto& [part, origin] : p.parts) check(part, origin);
      hs_expr_info_t* info = nullptr;
      hs_compile_error_t* err = nullptr;
      if (hs_expression_info(p.expression.c_str(), HS_FLAG_UTF8, &info, &err) != HS_SUCCESS) {
        CompileError guard(err);
        refuse(p.origin, std::string("pattern refused by Hyperscan: ") + err->message);
      }
      widths.emplace_back(info->min_width, info->max_width);
      std::free(info);
      if (widths.back().first == 0) refuse(p.origin, "pattern can match the empty string");
    }
    const auto [min_width, max_width] = widths[i];
    unsigned f = HS_FLAG_ALLOWEMPTY;
    const bool fixed = max_width != UINT_MAX && min_width == max_width;
    out->max_widths_[i] = max_width == UINT_MAX ? 512u : std::min(max_width, 4096u);
    out->bounded_[i] = max_width != UINT_MAX && max_width <= 4096u;
    if (fixed || !p.need_start || !p.start_in_scan) {
      out->widths_[i] = static_cast<int>(min_width);
      f = 0;
      if (!fixed && p.need_start) needs_refine[i] = true;
    } else {
      f = HS_FLAG_SOM_LEFTMOST;
    }
    flags[i] = f | HS_FLAG_UTF8;
    out->ids_[static_cast<int>(p.view)].push_back(static_cast<unsigned>(i));
  }

  std::atomic<bool> from_cache{false};
  auto build = [&](const std::vector<unsigned>& ids, const char* view) -> DbPtr {
    if (ids.empty()) return nullptr;
    if (!cache_file.empty()) {
      Blob blob;
      read_blob(cache_file.string() + "." + view, blob);
      if (!blob.empty()) {
        hs_database_t* db = nullptr;
        if (hs_deserialize_database(blob.data(), blob.size, &db) == HS_SUCCESS) {
          from_cache = true;
          return DbPtr(db);
        }
      }
    }
    std::vector<const char*> exprs;
    std::vector<unsigned> fl, hsids;
    for (unsigned k = 0; k < ids.size(); ++k) {
      exprs.push_back(patterns[ids[k]].expression.c_str());
      fl.push_back(flags[ids[k]]);
      hsids.push_back(k);
    }
    hs_database_t* db = nullptr;
    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(exprs.data(), fl.data(), hsids.data(), static_cast<unsigned>(exprs.size()),
                         HS_MODE_BLOCK, &plat, &db, &err) != HS_SUCCESS) {
      CompileError guard(err);
      std::string where = err->expression >= 0 ? patterns[ids[err->expression]].origin : "rules:0";
      refuse(where, std::string("Hyperscan cannot compile the rule set: ") + err->message);
    }
    DbPtr ptr(db);
    if (!cache_file.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(cache_dir, ec);
      std::string blob = serialize(db);
      auto tmp = cache_file.string() + "." + view + ".tmp";
      std::ofstream o(tmp, std::ios::binary);
      if (o && o.write(blob.data(), static_cast<std::streamsize>(blob.size())) && (o.close(), true))
        std::filesystem::rename(tmp, cache_file.string() + "." + view, ec);
    }
    return ptr;
  };
  const char* names[kHsViews] = {"anchors", "compact", "context"};
  // One start-finding database per pattern that needs it (its own SOM compile).
  auto refine = [&](std::size_t i) {
    hs_database_t* db = nullptr;
    const std::string start_file =
        cache_file.empty() ? "" : cache_file.string() + ".start" + std::to_string(i);
    if (!start_file.empty()) {
      Blob blob;
      read_blob(start_file, blob);
      if (!blob.empty() && hs_deserialize_database(blob.data(), blob.size, &db) == HS_SUCCESS) {
        out->refine_[i].reset(db);
        return;
      }
    }
    hs_compile_error_t* err = nullptr;
    if (hs_compile(patterns[i].expression.c_str(), HS_FLAG_SOM_LEFTMOST | HS_FLAG_UTF8,
                   HS_MODE_BLOCK, &plat, &db, &err) != HS_SUCCESS) {
      CompileError guard(err);
      refuse(patterns[i].origin,
             std::string("Hyperscan cannot track where this pattern starts: ") + err->message);
    }
    out->refine_[i].reset(db);
    if (!start_file.empty()) {
      std::string blob = serialize(db);
      std::ofstream o(start_file + ".tmp", std::ios::binary);
      std::error_code ec;
      if (o && o.write(blob.data(), static_cast<std::streamsize>(blob.size())) && (o.close(), true))
        std::filesystem::rename(start_file + ".tmp", start_file, ec);
    }
  };
  // The views and the start-finding databases are independent, and Hyperscan compiles each
  // on one core: a cold start or reload compiles them on every core. Each task writes only
  // its own slot; the first error is rethrown once all have finished.
  std::vector<std::function<void()>> tasks;
  for (int v = 0; v < kHsViews; ++v)
    tasks.push_back([&, v] { out->dbs_[v] = build(out->ids_[v], names[v]); });
  for (std::size_t i = 0; i < patterns.size(); ++i)
    if (needs_refine[i]) tasks.push_back([&, i] { refine(i); });
  std::vector<std::exception_ptr> errors(tasks.size());
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t t = next++; t < tasks.size(); t = next++) {
      try {
        tasks[t]();
      } catch (...) {
        errors[t] = std::current_exception();
      }
    }
  };
  const unsigned cores = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (unsigned k = 1; k < cores; ++k) pool.emplace_back(worker);
  worker();
  for (auto& th : pool) th.join();
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  out->from_cache_ = from_cache;

  hs_scratch_t* scratch = nullptr;
  std::vector<const DbPtr*> all;
  for (const DbPtr& d : out->dbs_) all.push_back(&d);
  for (const DbPtr& d : out->refine_) all.push_back(&d);
  for (const DbPtr* d : all) {
    hs_database_t* db = d->get();
    if (db && hs_alloc_scratch(db, &scratch) != HS_SUCCESS)
      throw ConfigError("rules", 0, "Hyperscan cannot allocate scratch space");
  }
  out->prototype_.reset(scratch);
  if (!cached) write_widths(cache_file, widths);
  return out;
}

void HsDatabases::check(const std::string& expression, const std::string& origin) {
  hs_expr_info_t* info = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_expression_info(expression.c_str(), HS_FLAG_UTF8, &info, &err) != HS_SUCCESS) {
    CompileError guard(err);
    refuse(origin, std::string("pattern refused by Hyperscan: ") + err->message);
  }
  bool empty = info->min_width == 0;
  std::free(info);
  if (empty) refuse(origin, "pattern can match the empty string");
}

std::size_t HsDatabases::exact_start(unsigned pattern, std::string_view text, std::size_t approx,
                                     std::size_t end) const {
  const hs_database_t* db = refine_[pattern].get();
  if (!db) return approx;
  std::size_t lo = end > max_widths_[pattern] ? end - max_widths_[pattern] : 0;
  struct Ctx {
    std::size_t want_end;
    std::size_t best;
  } ctx{end - lo, SIZE_MAX};
  auto on_match = [](unsigned, unsigned long long from, unsigned long long to, unsigned,
                     void* p) noexcept -> int {
    auto* c = static_cast<Ctx*>(p);
    if (to == c->want_end && from < c->best) c->best = static_cast<std::size_t>(from);
    return 0;
  };
  ScratchLease scratch(*this);
  if (hs_scan(db, text.data() + lo, static_cast<unsigned>(end - lo), 0, scratch.get(), on_match,
              &ctx) != HS_SUCCESS)
    throw ScanError("hyperscan scan failed");
  return ctx.best == SIZE_MAX ? approx : lo + ctx.best;
}

void HsDatabases::exact_starts(std::string_view text, std::vector<HsHit*>& hits) const {
  // Group by pattern, ends ascending. A dense page's millions of hits are grouped in one
  // linear pass keeping the scan's order (a sort of them was most of their cost).
  if (hits.size() < 256) {
    std::sort(hits.begin(), hits.end(), [](const HsHit* a, const HsHit* b) {
      return a->id != b->id ? a->id < b->id : a->to < b->to;
    });
  } else {
    std::unordered_map<unsigned, std::vector<HsHit*>> by_id;
    std::vector<unsigned> order;
    for (HsHit* h : hits) {
      auto [it, fresh] = by_id.try_emplace(h->id);
      if (fresh) order.push_back(h->id);
      it->second.push_back(h);
    }
    hits.clear();
    for (unsigned id : order) {
      auto& g = by_id[id];
      auto by_end = [](const HsHit* a, const HsHit* b) { return a->to < b->to; };
      if (!std::is_sorted(g.begin(), g.end(), by_end)) std::stable_sort(g.begin(), g.end(), by_end);
      hits.insert(hits.end(), g.begin(), g.end());
    }
  }
  struct Ctx {
    std::size_t lo;
    const HsHit* const* first;  // the cluster's hits, ends ascending
    std::size_t n;
    std::vector<std::size_t>* best;
  };
  std::vector<std::size_t> best;
  std::size_t i = 0;
  while (i < hits.size()) {
    const unsigned id = hits[i]->id;
    const hs_database_t* db = refine_[id].get();
    if (!db) {
      ++i;
      continue;
    }
    const std::size_t w = max_widths_[id];
    // A cluster: hits whose windows [to - w, to] overlap the one before. Scanning it once
    // finds, for every end, the leftmost start - the same answer as one window per hit
    // when no match of the pattern is longer than w. For a pattern of unbounded width (w
    // is then a cap) a start found before the hit's own window is not what the window
    // would find: that hit alone is searched in its window again.
    std::size_t j = i + 1;
    while (j < hits.size() && hits[j]->id == id && hits[j]->to <= hits[j - 1]->to + w) ++j;
    const std::size_t end = hits[j - 1]->to;
    const std::size_t lo = hits[i]->to > w ? hits[i]->to - w : 0;
    best.assign(j - i, SIZE_MAX);
    Ctx ctx{lo, hits.data() + i, j - i, &best};
    auto on_match = [](unsigned, unsigned long long from, unsigned long long to, unsigned,
                       void* p) noexcept -> int {
      auto* c = static_cast<Ctx*>(p);
      const std::size_t abs_to = c->lo + static_cast<std::size_t>(to);
      const HsHit* const* first = c->first;
      const HsHit* const* last = first + c->n;
      const HsHit* const* at = std::lower_bound(
          first, last, abs_to, [](const HsHit* h, std::size_t e) { return h->to < e; });
      for (; at != last && (*at)->to == abs_to; ++at) {
        std::size_t& b = (*c->best)[static_cast<std::size_t>(at - first)];
        b = std::min(b, c->lo + static_cast<std::size_t>(from));
      }
      return 0;
    };
    {
      ScratchLease scratch(*this);
      if (hs_scan(db, text.data() + lo, static_cast<unsigned>(end - lo), 0, scratch.get(), on_match,
                  &ctx) != HS_SUCCESS)
        throw ScanError("hyperscan scan failed");
    }
    for (std::size_t k = i; k < j; ++k) {
      HsHit& h = *hits[k];
      const std::size_t b = best[k - i];
      if (!bounded_[id] && b != SIZE_MAX && h.to - b > w)
        h.from = exact_start(id, text, h.from, h.to);
      else if (b != SIZE_MAX)
        h.from = b;
    }
    i = j;
  }
}

HsDatabases::~HsDatabases() = default;

void HsDatabases::scan(HsView view, std::string_view text, std::vector<HsHit>& out,
                       std::size_t offset) const {
  const int v = static_cast<int>(view);
  const hs_database_t* db = dbs_[v].get();
  if (!db || text.empty()) return;
  struct Ctx {
    const std::vector<unsigned>* ids;
    const std::vector<int>* widths;
    std::vector<HsHit>* out;
    std::size_t offset;
  } ctx{&ids_[v], &widths_, &out, offset};
  // Runs inside hs_scan: must not throw; returning 0 keeps scanning.
  auto on_match = [](unsigned id, unsigned long long from, unsigned long long to, unsigned,
                     void* p) noexcept -> int {
    auto* c = static_cast<Ctx*>(p);
    unsigned pattern = (*c->ids)[id];
    int w = (*c->widths)[pattern];
    std::size_t end = static_cast<std::size_t>(to);
    std::size_t start =
        w >= 0 ? (end >= static_cast<std::size_t>(w) ? end - static_cast<std::size_t>(w) : 0)
               : static_cast<std::size_t>(from);
    c->out->push_back(HsHit{pattern, start + c->offset, end + c->offset});
    return 0;
  };
  ScratchLease scratch(*this);
  hs_error_t rc = hs_scan(db, text.data(), static_cast<unsigned>(text.size()), 0, scratch.get(),
                          on_match, &ctx);
  if (rc != HS_SUCCESS) throw ScanError("hyperscan scan failed: " + std::to_string(rc));
}

}  // namespace pm
