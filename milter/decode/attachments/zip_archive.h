// A zip archive read from memory (libzip), for plain zip attachments and for the zip inside
// OOXML and ODF files. Move-only RAII around zip_t / zip_file_t.
//
// Why the care: a zip is hostile input. The central directory may lie about sizes, members
// may inflate a thousand-fold (42.zip), and members may be encrypted. So nothing is inflated
// without a cap: read_member() checks the declared size and ratio first, then reads at most
// the remaining budget and re-checks what it really got.
//
// Errors: the constructor throws std::runtime_error when the bytes are not a readable zip
// (truncated, no central directory); read_member() reports limits and encryption to the
// Job and returns nullopt. Thread safety: one archive per thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "decode/attachments/internal.h"

struct zip;

namespace pm::attachments::detail {

class ZipArchive {
 public:
  // `bytes` is not copied and must outlive the archive.
  explicit ZipArchive(std::string_view bytes);
  ~ZipArchive();
  ZipArchive(ZipArchive&& other) noexcept : za_(other.za_) { other.za_ = nullptr; }
  ZipArchive& operator=(ZipArchive&&) = delete;
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  struct Entry {
    std::string name;             // UTF-8 (CP437 names are converted by libzip)
    std::uint64_t size = 0;       // as declared by the central directory
    std::uint64_t comp_size = 0;  // as declared
    bool encrypted = false;
    bool is_dir = false;
  };

  std::uint64_t count() const;
  Entry entry(std::uint64_t index) const;
  // Index of a member by exact name.
  std::optional<std::uint64_t> find(const std::string& name) const;

  enum class ReadStatus { ok, over_cap, encrypted, corrupt };
  // Inflates member `index`, stopping after `cap` + 1 bytes (over_cap).
  ReadStatus read(std::uint64_t index, std::size_t cap, std::string& data) const;
  // The same in chunks of at most 64 KiB handed to `sink` as they inflate (nothing is
  // kept); `total` counts what came out. `sink` may throw.
  ReadStatus read_chunks(std::uint64_t index, std::size_t cap,
                         const std::function<void(std::string_view)>& sink,
                         std::size_t& total) const;

 private:
  struct zip* za_ = nullptr;
};

// Reads one member under the job's limits: encryption -> "encrypted-zip"; declared or real
// size over max_attachment_bytes -> limit; over the archive budget (max_archive_bytes) or
// the compression ratio -> limit that stops the job; counts members. `origin` names the
// member in any Unscannable entry. nullopt when the member must be skipped.
// `format` names the container in a "corrupt:<format>" reason (a damaged part of a docx is
// a corrupt docx, not a corrupt zip to the person reading the verdict).
std::optional<std::string> read_member(Job& job, const ZipArchive& zip, std::uint64_t index,
                                       const std::string& origin, const char* format = "zip");

// The same, by name; nullopt also when there is no such member.
std::optional<std::string> read_member(Job& job, const ZipArchive& zip, const std::string& name,
                                       const std::string& origin, const char* format = "zip");

// Streams a member by name to `sink` under the same limits, for parts read as a stream
// (spreadsheet sheets): memory is one chunk, not the member. False when the member is
// absent or was stopped by a limit or an error (reported to the Job).
bool stream_member(Job& job, const ZipArchive& zip, const std::string& name,
                   const std::string& origin, const char* format,
                   const std::function<void(std::string_view)>& sink);

}  // namespace pm::attachments::detail
