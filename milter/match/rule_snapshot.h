// The warm-start snapshot of a loaded rule set (issue 12): after a successful load, the
// RuleSet that rules/*.toml, the local rules, rules/names and the configuration's lists
// built (categories, rules with their resolved conditions, lexicon terms expanded into
// their Hyperscan expressions, URL classes, names) is written to the cache directory; the
// next start with the same inputs maps that file instead of parsing and checking the TOML
// again, and loads the cached Hyperscan databases for the stored expressions.
//
// The key is a BLAKE2b hash of everything the load reads or is given: the build ids (ELF
// NT_GNU_BUILD_ID) of this program and of every shared library it loaded, so a new binary
// or an upgraded library - new parsing code - never reads an old snapshot; the snapshot
// format, the rules directory's path and every *.toml's name and content,
// rules/names/*.txt, the local directory's files and whether it is required, the
// configuration's official sites and roster given names, and the Public Suffix List file
// the URL checks use (size and mtime). The file carries its key, its length and a BLAKE2b
// hash of its payload: a changed input, a truncated or damaged file, another format or
// another build all fall back to the normal load (which then writes a fresh snapshot).
// Nothing here throws: any failure is "no snapshot".
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace pm {

class RuleSet;
struct HsPattern;

struct RuleSnapshotInputs {
  std::filesystem::path dir, local_dir, cache_dir;
  bool local_required = false;
  std::vector<std::string> official, given_names_extra;
};

class RuleSnapshot {
 public:
  // The key of these inputs; empty when no snapshot can be used (no cache_dir, no build
  // id, an input that cannot be read - the normal load then reports it).
  static std::string key(const RuleSnapshotInputs& in);
  // Where the snapshot of `key` lives.
  static std::filesystem::path file(const std::filesystem::path& cache_dir, const std::string& key);
  // The rule set of a valid snapshot for `key`, its Hyperscan databases loaded (from their
  // cache, or compiled); null when there is none or it does not check out.
  static std::unique_ptr<RuleSet> read(const std::filesystem::path& cache_dir,
                                       const std::string& key);
  // Writes `rs` (and the patterns its databases were compiled from) under `key`; failures
  // are ignored (it is only a cache).
  static void write(const std::filesystem::path& cache_dir, const std::string& key,
                    const RuleSet& rs, const std::vector<HsPattern>& patterns);
  // The build ids of this program and its loaded libraries, one per line ("" when the
  // program has none).
  static const std::string& build_id();

 private:
  // Every field of the snapshot, in order, for the writer and the reader alike.
  template <class A>
  static void payload(A& a, RuleSet& rs, std::vector<HsPattern>& patterns);
};

}  // namespace pm
