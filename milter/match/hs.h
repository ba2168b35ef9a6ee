// Hyperscan behind RAII: compiled databases for the two views (normalised text and the
// digits-compacted view), their scratch pool, and the on-disk cache of serialised
// databases. The only header that includes hs.h.
//
// Start-of-match costs a lot in Hyperscan (DEPENDENCIES.md: ~20 MB/s with SOM on
// everything), so SOM is asked for only where it is needed: a pattern whose width is fixed
// gets its start as end - width; a pattern whose start is not needed gets end - its
// minimum width; only variable-width anchors use HS_FLAG_SOM_LEFTMOST.
// Thread safety: compile once; scan() is thread-safe (each call takes a scratch from the
// pool, cloned on demand).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

struct hs_database;
struct hs_scratch;

namespace pm {

// The databases a segment can be scanned with. `anchors` runs over every segment (rules'
// own patterns, lexicons that anchor a rule, the URL hint); `compact` over the
// digits-compacted view; `context` only over the text around anchors that were found
// (lexicons used only as with/without conditions), which spares most text most patterns.
enum class HsView { anchors = 0, compact = 1, context = 2 };
constexpr int kHsViews = 3;

struct HsPattern {
  std::string expression;
  HsView view = HsView::anchors;
  std::string origin;  // "file:line" for error messages
  // Whether a hit's exact start is needed (an anchor whose evidence is shown). Context
  // terms only need to be located within a window: their start is taken as end - the
  // pattern's minimum width, which spares Hyperscan the costly start-of-match tracking.
  bool need_start = true;
  // Track the start inside the main scan (acronyms, whose first word is checked at once).
  // Otherwise a variable-width pattern that needs its start is scanned without
  // start-of-match and its start is found afterwards, per hit, by exact_start().
  bool start_in_scan = false;
  // Pieces of `expression` (lexicon terms merged into one alternation), each checked alone
  // so that an error names the piece's own origin. Checked only when the databases are
  // compiled, not on a cache hit (the same expressions compiled before).
  std::vector<std::pair<std::string, std::string>> parts;  // expression, origin
};

struct HsHit {
  unsigned id;  // index into the pattern list given to compile()
  std::size_t from, to;
};

class HsDatabases {
 public:
  // Compiles all patterns; throws ConfigError (with the pattern's origin) when Hyperscan
  // refuses one. With a non-empty cache_dir, a serialised database keyed on the
  // patterns' hash + Hyperscan version + CPU platform is loaded instead when present, and
  // written after compiling (failures to write the cache are ignored: it is only a cache).
  // On a cache hit nothing is re-checked: the patterns' widths come from the cache too.
  static std::unique_ptr<HsDatabases> compile(const std::vector<HsPattern>& patterns,
                                              const std::filesystem::path& cache_dir = {});
  // Checks one expression alone; throws ConfigError naming `origin` if Hyperscan refuses it.
  static void check(const std::string& expression, const std::string& origin);
  ~HsDatabases();
  HsDatabases(const HsDatabases&) = delete;
  HsDatabases& operator=(const HsDatabases&) = delete;

  // Appends the hits of one database over `text`, their offsets shifted by `offset` (the
  // position of `text` in the segment). Throws ScanError on a Hyperscan failure.
  void scan(HsView view, std::string_view text, std::vector<HsHit>& out,
            std::size_t offset = 0) const;
  bool has(HsView view) const { return dbs_[static_cast<int>(view)] != nullptr; }
  // The exact (leftmost) start of a hit of `pattern` that ends at `end` in `text`. Patterns
  // scanned without start-of-match have a small database of their own with it: it runs
  // over the few hundred bytes before the hit only, so hits (rare) pay, not the text.
  std::size_t exact_start(unsigned pattern, std::string_view text, std::size_t approx,
                          std::size_t end) const;
  // exact_start() for many hits at once: each hit's `from` becomes its exact start (the same
  // as exact_start's). Hits of one pattern whose windows overlap share one scan, so a dense
  // run (a page of spaced digits or of one insult, a hit at every word) costs one pass over
  // it instead of one scan per hit (hostile mail: 4 MB of "1 1 1" took 5 s of them).
  void exact_starts(std::string_view text, std::vector<HsHit*>& hits) const;

  std::size_t size() const { return widths_.size(); }
  bool loaded_from_cache() const { return from_cache_; }

 private:
  HsDatabases() = default;
  struct DbDeleter {
    void operator()(hs_database* db) const;
  };
  struct ScratchDeleter {
    void operator()(hs_scratch* s) const;
  };
  using DbPtr = std::unique_ptr<hs_database, DbDeleter>;
  using ScratchPtr = std::unique_ptr<hs_scratch, ScratchDeleter>;
  class ScratchLease;

  DbPtr dbs_[kHsViews];
  std::vector<unsigned> ids_[kHsViews];  // db-local id -> pattern index
  std::vector<int> widths_;              // start = end - width, or -1 (SOM used)
  std::vector<DbPtr> refine_;            // per pattern: SOM database, or null
  std::vector<unsigned> max_widths_;     // per pattern, capped
  std::vector<bool> bounded_;            // max width known and under the cap
  mutable std::mutex pool_mutex_;
  mutable std::vector<ScratchPtr> pool_;
  ScratchPtr prototype_;
  bool from_cache_ = false;
};

}  // namespace pm
