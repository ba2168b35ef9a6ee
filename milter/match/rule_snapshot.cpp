#include "match/rule_snapshot.h"

#include <elf.h>
#include <fcntl.h>
#include <libpsl.h>
#include <link.h>
#include <sodium.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <type_traits>

#include "match/hs.h"
#include "match/rules.h"
#include "match/urls.h"
#include "util/strings.h"

namespace pm {

namespace {

// Bumped whenever what is written changes (a field of Rule, Ref, ... added or moved).
constexpr std::uint32_t kFormat = 2;
constexpr char kMagic[8] = {'P', 'M', 'R', 'U', 'L', 'E', 'S', '\n'};
constexpr std::size_t kHash = crypto_generichash_BYTES;  // 32
// magic, format, key, payload length, payload hash
constexpr std::size_t kHeader = sizeof(kMagic) + 4 + kHash + 8 + kHash;

std::string hex(const unsigned char* p, std::size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    s += d[p[i] >> 4];
    s += d[p[i] & 15];
  }
  return s;
}

// ---- the key ----

class Hasher {
 public:
  Hasher() { crypto_generichash_init(&st_, nullptr, 0, kHash); }
  // Length-prefixed, so no two sequences of fields hash alike.
  void add(std::string_view s) {
    const std::uint64_t n = s.size();
    crypto_generichash_update(&st_, reinterpret_cast<const unsigned char*>(&n), sizeof n);
    crypto_generichash_update(&st_, reinterpret_cast<const unsigned char*>(s.data()), s.size());
  }
  std::string hex_digest() {
    unsigned char out[kHash];
    crypto_generichash_final(&st_, out, kHash);
    return hex(out, kHash);
  }

 private:
  crypto_generichash_state st_;
};

// Every *.toml of `dir`, sorted by name as the loader reads them, each name and content.
void add_toml_dir(Hasher& h, const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".toml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  h.add(std::to_string(files.size()));
  for (const auto& f : files) {
    h.add(f.filename().string());
    h.add(read_file(f.string()));
  }
}

void add_optional_file(Hasher& h, const std::filesystem::path& p) {
  std::error_code ec;
  if (!std::filesystem::exists(p, ec)) {
    h.add("-");
    return;
  }
  h.add("+");
  h.add(read_file(p.string()));
}

// ---- the payload ----

// Enum sizes, for the reader's range checks.
constexpr int count_of(RecipientClass) {
  return static_cast<int>(RecipientClass::external) + 1;
}
constexpr int count_of(SegmentKind) {
  return static_cast<int>(SegmentKind::attachment) + 1;
}
constexpr int count_of(Target) {
  return static_cast<int>(Target::staff) + 1;
}
constexpr int count_of(Stance) {
  return static_cast<int>(Stance::irony) + 1;
}
constexpr int count_of(WindowKind) {
  return static_cast<int>(WindowKind::chars) + 1;
}
constexpr int count_of(RefKind) {
  return static_cast<int>(RefKind::url_class) + 1;
}
constexpr int count_of(HsView) {
  return kHsViews;
}

// The payload is written and read by the same field lists (fields() below), so the two
// cannot drift apart: Writer appends each field, Reader fills it in.
class Writer {
 public:
  std::string out;
  template <class... T>
  void operator()(const T&... v) {
    (put(v), ...);
  }

 private:
  void raw(const void* p, std::size_t n) { out.append(static_cast<const char*>(p), n); }
  void put(int v) { raw(&v, sizeof v); }
  void put(bool v) { out.push_back(v ? 1 : 0); }
  void put(double v) { raw(&v, sizeof v); }
  void put(const std::string& s) {
    put(static_cast<int>(s.size()));
    out += s;
  }
  template <class E, std::enable_if_t<std::is_enum_v<E>, int> = 0>
  void put(E e) {
    put(static_cast<int>(e));
  }
  template <class T>
  void put(const std::vector<T>& v) {
    put(static_cast<int>(v.size()));
    for (const T& x : v) put(x);
  }
  template <class T, std::enable_if_t<std::is_class_v<T>, int> = 0>
  void put(const T& x) {
    fields(*this, const_cast<T&>(x));  // fields() only reads through a Writer
  }
};

// Bounds-checked: a short file or an out-of-range value throws (caught by read(): no
// snapshot).
class Reader {
 public:
  Reader(const char* p, std::size_t n) : p_(p), end_(p + n) {}
  template <class... T>
  void operator()(T&... v) {
    (get(v), ...);
  }
  bool done() const { return p_ == end_; }

 private:
  void need(std::size_t n) const {
    if (static_cast<std::size_t>(end_ - p_) < n) throw std::runtime_error("snapshot truncated");
  }
  void raw(void* dst, std::size_t n) {
    need(n);
    std::memcpy(dst, p_, n);
    p_ += n;
  }
  std::size_t size() {
    int n;
    get(n);
    if (n < 0) throw std::runtime_error("snapshot: bad size");
    need(static_cast<std::size_t>(n));  // every element takes a byte or more: no huge reserve
    return static_cast<std::size_t>(n);
  }
  void get(int& v) { raw(&v, sizeof v); }
  void get(bool& v) {
    char c;
    raw(&c, 1);
    if (c != 0 && c != 1) throw std::runtime_error("snapshot: bad bool");
    v = c == 1;
  }
  void get(double& v) { raw(&v, sizeof v); }
  void get(std::string& s) {
    const std::size_t n = size();
    s.assign(p_, n);
    p_ += n;
  }
  template <class E, std::enable_if_t<std::is_enum_v<E>, int> = 0>
  void get(E& e) {
    int v;
    get(v);
    if (v < 0 || v >= count_of(E{})) throw std::runtime_error("snapshot: bad enum");
    e = static_cast<E>(v);
  }
  template <class T>
  void get(std::vector<T>& v) {
    v.clear();
    v.resize(size());
    for (T& x : v) get(x);
  }
  template <class T, std::enable_if_t<std::is_class_v<T>, int> = 0>
  void get(T& x) {
    fields(*this, x);
  }
  const char* p_;
  const char* end_;
};

// Every field of each type, in file order. A field added to one of these structs must be
// added here (and kFormat bumped); the static_asserts below catch a struct that grew.
template <class A>
void fields(A& a, Condition& c) {
  a(c.refs, c.text);
}
template <class A>
void fields(A& a, CategoryDef& c) {
  a(c.id, c.clause, c.applies_to, c.threshold, c.own_words, c.roles, c.file, c.line);
}
template <class A>
void fields(A& a, Rule& r) {
  a(r.id, r.category, r.clause, r.file, r.line, r.pattern, r.compact_view, r.anchor_ref,
    r.validator, r.with, r.without, r.without_before, r.window, r.window_chars, r.weight, r.scope,
    r.credited_exempt, r.applies_to, r.targets, r.stances, r.without_stance, r.without_target,
    r.reach, r.examples_match, r.examples_no_match, r.enabled, r.local);
}
template <class A>
void fields(A& a, LocalChange& c) {
  a(c.file, c.line, c.what);
}
template <class A>
void fields(A& a, Ref& r) {
  a(r.kind, r.name, r.target, r.stance, r.detail, r.not_before);
}
template <class A>
void fields(A& a, RuleSet::PatternInfo& p) {
  a(p.rule, p.lexicon, p.url, p.acronym);
}
// The patterns' pieces are not kept: they are only checked on a compile, and these were.
template <class A>
void fields(A& a, HsPattern& p) {
  a(p.expression, p.view, p.origin, p.need_start, p.start_in_scan);
}

// Sizes on x86-64 with libstdc++ (the build CI runs): a struct that grew has a field the
// snapshot does not carry yet - add it to fields() and bump kFormat, then the size here.
#if defined(__x86_64__) && defined(__GLIBCXX__)
static_assert(sizeof(Condition) == 56);
static_assert(sizeof(CategoryDef) == 168);
static_assert(sizeof(Rule) == 544);
static_assert(sizeof(LocalChange) == 72);
static_assert(sizeof(Ref) == 104);
static_assert(sizeof(RuleSet::PatternInfo) == 12);
static_assert(sizeof(HsPattern) == 104);
static_assert(sizeof(UrlClasses) == 200);
static_assert(sizeof(RuleSet) == 440);
#endif

// A mapped file, unmapped on scope exit.
struct Mapping {
  void* p = MAP_FAILED;
  std::size_t n = 0;
  ~Mapping() {
    if (p != MAP_FAILED) munmap(p, n);
  }
};

// The build id of every object loaded - the program first (its id covers the statically
// linked engine), then each shared library (ICU, the Snowball stemmer, libpsl, Hyperscan...):
// a library upgraded under the same binary may parse, inflect or check differently, so it
// is another key. An object without an id is named by its path instead. The program must
// have one (`ok`), else no snapshot is used.
struct Ids {
  std::string all;
  bool ok = false;
  bool first = true;
  bool failed = false;
};

int note_callback(struct dl_phdr_info* info, size_t, void* data) noexcept {
  // Runs inside dl_iterate_phdr: must not throw.
  auto* ids = static_cast<Ids*>(data);
  std::string id;
  try {
    for (int i = 0; i < info->dlpi_phnum && id.empty(); ++i) {
      const ElfW(Phdr)& ph = info->dlpi_phdr[i];
      if (ph.p_type != PT_NOTE) continue;
      const char* p = reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr);
      const char* end = p + ph.p_memsz;
      while (p + sizeof(ElfW(Nhdr)) <= end) {
        const auto* nh = reinterpret_cast<const ElfW(Nhdr)*>(p);
        const char* name = p + sizeof(ElfW(Nhdr));
        const char* desc = name + ((nh->n_namesz + 3) & ~3u);
        const char* next = desc + ((nh->n_descsz + 3) & ~3u);
        if (next > end) break;
        if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
            std::memcmp(name, "GNU", 4) == 0) {
          id = hex(reinterpret_cast<const unsigned char*>(desc), nh->n_descsz);
          break;
        }
        p = next;
      }
    }
    if (ids->first) ids->ok = !id.empty();
    ids->first = false;
    ids->all += (id.empty() ? std::string(info->dlpi_name ? info->dlpi_name : "?") : id) + "\n";
  } catch (...) {
    ids->failed = true;
    return 1;
  }
  return 0;
}

}  // namespace

// The whole payload; Writer only reads through these references.
template <class A>
void RuleSnapshot::payload(A& a, RuleSet& rs, std::vector<HsPattern>& patterns) {
  a(rs.categories_, rs.rules_, rs.local_changes_, rs.refs_, rs.urls_.official, rs.urls_.allow,
    rs.urls_.social, rs.urls_.social_content, rs.urls_.blog, rs.urls_.shortener, rs.given_names_,
    rs.name_stopwords_, rs.restricted_allowed_, rs.pattern_info_, rs.hash_, patterns);
}

const std::string& RuleSnapshot::build_id() {
  static const std::string id = [] {
    Ids ids;
    dl_iterate_phdr(note_callback, &ids);
    return ids.ok && !ids.failed ? ids.all : std::string();
  }();
  return id;
}

std::string RuleSnapshot::key(const RuleSnapshotInputs& in) {
  try {
    if (in.cache_dir.empty() || build_id().empty() || sodium_init() < 0) return {};
    std::error_code ec;
    if (!std::filesystem::is_directory(in.dir, ec)) return {};
    Hasher h;
    h.add("format");
    h.add(std::to_string(kFormat));
    h.add(build_id());
    h.add(in.dir.string());
    add_toml_dir(h, in.dir);
    add_optional_file(h, in.dir / "names" / "given-names.txt");
    add_optional_file(h, in.dir / "names" / "not-names.txt");
    h.add(in.local_required ? "local required" : "local optional");
    h.add(in.local_dir.string());
    if (!in.local_dir.empty()) {
      if (std::filesystem::is_directory(in.local_dir, ec))
        add_toml_dir(h, in.local_dir);
      else if (in.local_required)
        return {};  // the normal load reports it
      else
        h.add("no local dir");
    }
    h.add(std::to_string(in.official.size()));
    for (const auto& s : in.official) h.add(s);
    h.add(std::to_string(in.given_names_extra.size()));
    for (const auto& s : in.given_names_extra) h.add(s);
    // The suffix list decides which allow entries are refused: a new list, a new check.
    if (const char* psl = psl_dist_filename()) {
      struct stat st {};
      h.add(psl);
      if (::stat(psl, &st) == 0) {
        h.add(std::to_string(st.st_size));
        h.add(std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec));
      }
    }
    return h.hex_digest();
  } catch (...) {
    return {};
  }
}

std::filesystem::path RuleSnapshot::file(const std::filesystem::path& cache_dir,
                                         const std::string& key) {
  return cache_dir / ("ruleset-" + key.substr(0, 32) + ".snap");
}

void RuleSnapshot::write(const std::filesystem::path& cache_dir, const std::string& key,
                         const RuleSet& rs, const std::vector<HsPattern>& patterns) {
  if (key.empty()) return;
  try {
    Writer w;
    payload(w, const_cast<RuleSet&>(rs), const_cast<std::vector<HsPattern>&>(patterns));
    std::string file_bytes(kMagic, sizeof kMagic);
    file_bytes.append(reinterpret_cast<const char*>(&kFormat), sizeof kFormat);
    unsigned char raw_key[kHash];
    if (key.size() != 2 * kHash ||
        sodium_hex2bin(raw_key, kHash, key.data(), key.size(), nullptr, nullptr, nullptr) != 0)
      return;
    file_bytes.append(reinterpret_cast<const char*>(raw_key), kHash);
    const std::uint64_t len = w.out.size();
    file_bytes.append(reinterpret_cast<const char*>(&len), sizeof len);
    unsigned char sum[kHash];
    crypto_generichash(sum, kHash, reinterpret_cast<const unsigned char*>(w.out.data()),
                       w.out.size(), nullptr, 0);
    file_bytes.append(reinterpret_cast<const char*>(sum), kHash);
    file_bytes += w.out;

    std::error_code ec;
    std::filesystem::create_directories(cache_dir, ec);
    const std::filesystem::path dst = file(cache_dir, key);
    const std::string tmp = dst.string() + ".tmp." + std::to_string(::getpid());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return;
    std::size_t off = 0;
    while (off < file_bytes.size()) {
      const ssize_t n = ::write(fd, file_bytes.data() + off, file_bytes.size() - off);
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    const bool ok = off == file_bytes.size() && ::close(fd) == 0;
    if (!ok || (std::filesystem::rename(tmp, dst, ec), ec)) std::filesystem::remove(tmp, ec);
  } catch (...) {
  }
}

std::unique_ptr<RuleSet> RuleSnapshot::read(const std::filesystem::path& cache_dir,
                                            const std::string& key) {
  if (key.empty()) return nullptr;
  try {
    const std::filesystem::path path = file(cache_dir, key);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return nullptr;
    struct stat st {};
    Mapping m;
    if (::fstat(fd, &st) == 0 && st.st_size >= static_cast<off_t>(kHeader)) {
      m.n = static_cast<std::size_t>(st.st_size);
      m.p = ::mmap(nullptr, m.n, PROT_READ, MAP_PRIVATE, fd, 0);
    }
    ::close(fd);
    if (m.p == MAP_FAILED) return nullptr;
    const char* base = static_cast<const char*>(m.p);
    const char* p = base;
    if (std::memcmp(p, kMagic, sizeof kMagic) != 0) return nullptr;
    p += sizeof kMagic;
    std::uint32_t format;
    std::memcpy(&format, p, 4);
    p += 4;
    if (format != kFormat) return nullptr;
    unsigned char raw_key[kHash];
    if (key.size() != 2 * kHash ||
        sodium_hex2bin(raw_key, kHash, key.data(), key.size(), nullptr, nullptr, nullptr) != 0 ||
        std::memcmp(p, raw_key, kHash) != 0)
      return nullptr;
    p += kHash;
    std::uint64_t len;
    std::memcpy(&len, p, 8);
    p += 8;
    const char* stored_sum = p;
    p += kHash;
    if (len != m.n - kHeader) return nullptr;
    unsigned char sum[kHash];
    crypto_generichash(sum, kHash, reinterpret_cast<const unsigned char*>(p), len, nullptr, 0);
    if (std::memcmp(sum, stored_sum, kHash) != 0) return nullptr;

    Reader r(p, len);
    std::unique_ptr<RuleSet> rs(new RuleSet());
    std::vector<HsPattern> patterns;
    payload(r, *rs, patterns);
    if (!r.done() || patterns.size() != rs->pattern_info_.size()) return nullptr;
    index_url_classes(rs->urls_);
    rs->dbs_ = HsDatabases::compile(patterns, cache_dir);
    rs->from_snapshot_ = true;
    return rs;
  } catch (...) {
    return nullptr;
  }
}

}  // namespace pm
