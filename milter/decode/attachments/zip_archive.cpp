#include "decode/attachments/zip_archive.h"

#include <zip.h>

#include <memory>
#include <stdexcept>

namespace pm::attachments::detail {

namespace {

struct ZipFileCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};
using ZipFile = std::unique_ptr<zip_file_t, ZipFileCloser>;

// Tiny members compress arbitrarily well (an empty XML part, a run of spaces) and cannot
// exhaust anything, so the ratio test starts above this size; the byte budget covers sums.
constexpr std::uint64_t kRatioFloor = 1u << 20;

}  // namespace

ZipArchive::ZipArchive(std::string_view bytes) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
  if (src == nullptr) {
    zip_error_fini(&error);
    throw std::runtime_error("zip source");
  }
  za_ = zip_open_from_source(src, ZIP_RDONLY, &error);
  zip_error_fini(&error);
  if (za_ == nullptr) {
    zip_source_free(src);  // on failure the source is still ours
    throw std::runtime_error("not a readable zip");
  }
}

ZipArchive::~ZipArchive() {
  if (za_ != nullptr) zip_discard(za_);  // read-only: never write anything back
}

std::uint64_t ZipArchive::count() const {
  zip_int64_t n = zip_get_num_entries(za_, 0);
  return n < 0 ? 0 : static_cast<std::uint64_t>(n);
}

ZipArchive::Entry ZipArchive::entry(std::uint64_t index) const {
  Entry e;
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(za_, index, ZIP_FL_ENC_GUESS, &st) != 0) return e;
  if (st.valid & ZIP_STAT_NAME) e.name = st.name;
  if (st.valid & ZIP_STAT_SIZE) e.size = st.size;
  if (st.valid & ZIP_STAT_COMP_SIZE) e.comp_size = st.comp_size;
  if (st.valid & ZIP_STAT_ENCRYPTION_METHOD) e.encrypted = st.encryption_method != ZIP_EM_NONE;
  e.is_dir = !e.name.empty() && e.name.back() == '/';
  return e;
}

std::optional<std::uint64_t> ZipArchive::find(const std::string& name) const {
  zip_int64_t i = zip_name_locate(za_, name.c_str(), ZIP_FL_ENC_GUESS);
  if (i < 0) return std::nullopt;
  return static_cast<std::uint64_t>(i);
}

ZipArchive::ReadStatus ZipArchive::read(std::uint64_t index, std::size_t cap,
                                        std::string& data) const {
  data.clear();
  ZipFile f(zip_fopen_index(za_, index, 0));
  if (!f) {
    int code = zip_error_code_zip(zip_get_error(za_));
    return code == ZIP_ER_NOPASSWD || code == ZIP_ER_WRONGPASSWD || code == ZIP_ER_ENCRNOTSUPP
               ? ReadStatus::encrypted
               : ReadStatus::corrupt;
  }
  char buf[64 * 1024];
  for (;;) {
    zip_int64_t n = zip_fread(f.get(), buf, sizeof buf);
    if (n < 0) return ReadStatus::corrupt;  // CRC mismatch, bad deflate stream, lying sizes
    if (n == 0) break;
    if (data.size() + static_cast<std::size_t>(n) > cap) return ReadStatus::over_cap;
    data.append(buf, static_cast<std::size_t>(n));
  }
  return ReadStatus::ok;
}

std::optional<std::string> read_member(Job& job, const ZipArchive& zip, std::uint64_t index,
                                       const std::string& origin, const char* format) {
  if (job.stopped || job.out_of_time(origin)) return std::nullopt;
  const Limits& lim = job.limits();
  ZipArchive::Entry e = zip.entry(index);
  if (++job.members > lim.max_archive_members) {
    job.limit(origin, "max_archive_members", true);
    return std::nullopt;
  }
  if (e.encrypted) {
    job.unscannable(origin, "encrypted-zip");
    return std::nullopt;
  }
  if (e.size > lim.max_attachment_bytes) {
    job.limit(origin, "max_attachment_bytes", false);
    return std::nullopt;
  }
  auto ratio_exceeded = [&](std::uint64_t size) {
    return size > kRatioFloor &&
           size > static_cast<std::uint64_t>(lim.max_compression_ratio) * (e.comp_size + 1);
  };
  if (ratio_exceeded(e.size)) {
    job.limit(origin, "max_compression_ratio", true);
    return std::nullopt;
  }
  std::size_t budget = lim.max_archive_bytes > job.inflated ? lim.max_archive_bytes - job.inflated : 0;
  if (e.size > budget) {
    job.limit(origin, "max_archive_bytes", true);
    return std::nullopt;
  }
  // Declared sizes may lie: cap the real inflation by both limits, and re-check the ratio
  // against what really came out.
  std::size_t cap = std::min<std::size_t>(budget, lim.max_attachment_bytes);
  std::string data;
  switch (zip.read(index, cap, data)) {
    case ZipArchive::ReadStatus::ok:
      break;
    case ZipArchive::ReadStatus::encrypted:
      job.unscannable(origin, "encrypted-zip");
      return std::nullopt;
    case ZipArchive::ReadStatus::corrupt:
      job.unscannable(origin, std::string("corrupt:") + format);
      return std::nullopt;
    case ZipArchive::ReadStatus::over_cap:
      job.inflated += data.size();
      if (ratio_exceeded(data.size()))
        job.limit(origin, "max_compression_ratio", true);
      else if (cap == budget)
        job.limit(origin, "max_archive_bytes", true);
      else
        job.limit(origin, "max_attachment_bytes", false);
      return std::nullopt;
  }
  job.inflated += data.size();
  if (ratio_exceeded(data.size())) {
    job.limit(origin, "max_compression_ratio", true);
    return std::nullopt;
  }
  return data;
}

std::optional<std::string> read_member(Job& job, const ZipArchive& zip, const std::string& name,
                                       const std::string& origin, const char* format) {
  auto index = zip.find(name);
  if (!index) return std::nullopt;
  return read_member(job, zip, *index, origin, format);
}

}  // namespace pm::attachments::detail
