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

// Over the inflated/compressed ratio that marks a zip bomb (tiny members excepted).
bool ratio_exceeded(const Limits& lim, const ZipArchive::Entry& e, std::uint64_t size) {
  return size > kRatioFloor &&
         size > static_cast<std::uint64_t>(lim.max_compression_ratio) * (e.comp_size + 1);
}

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

ZipArchive::ReadStatus ZipArchive::read_chunks(std::uint64_t index, std::size_t cap,
                                               const std::function<void(std::string_view)>& sink,
                                               std::size_t& total) const {
  total = 0;
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
    if (total + static_cast<std::size_t>(n) > cap) return ReadStatus::over_cap;
    total += static_cast<std::size_t>(n);
    sink(std::string_view(buf, static_cast<std::size_t>(n)));
  }
  return ReadStatus::ok;
}

ZipArchive::ReadStatus ZipArchive::read(std::uint64_t index, std::size_t cap,
                                        std::string& data) const {
  data.clear();
  std::size_t total = 0;
  return read_chunks(
      index, cap, [&](std::string_view c) { data.append(c); }, total);
}

namespace {

// The checks made before a member is inflated; the cap on what it may inflate to, or
// nullopt when it must be skipped (reported).
std::optional<std::size_t> member_cap(Job& job, const ZipArchive::Entry& e,
                                      const std::string& origin) {
  if (job.stopped || job.out_of_time(origin)) return std::nullopt;
  const Limits& lim = job.limits();
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
  if (ratio_exceeded(lim, e, e.size)) {
    job.limit(origin, "max_compression_ratio", true);
    return std::nullopt;
  }
  std::size_t budget =
      lim.max_archive_bytes > job.inflated ? lim.max_archive_bytes - job.inflated : 0;
  if (e.size > budget) {
    job.limit(origin, "max_archive_bytes", true);
    return std::nullopt;
  }
  // Declared sizes may lie: the real inflation is capped by both limits and re-checked.
  return std::min<std::size_t>(budget, lim.max_attachment_bytes);
}

// What a read that ended with `status` after `got` bytes means; true when the data stands.
bool member_done(Job& job, const ZipArchive::Entry& e, ZipArchive::ReadStatus status,
                 std::size_t got, std::size_t cap, const std::string& origin, const char* format) {
  const Limits& lim = job.limits();
  std::size_t budget =
      lim.max_archive_bytes > job.inflated ? lim.max_archive_bytes - job.inflated : 0;
  job.inflated += got;
  switch (status) {
    case ZipArchive::ReadStatus::ok:
      break;
    case ZipArchive::ReadStatus::encrypted:
      job.unscannable(origin, "encrypted-zip");
      return false;
    case ZipArchive::ReadStatus::corrupt:
      job.unscannable(origin, std::string("corrupt:") + format);
      return false;
    case ZipArchive::ReadStatus::over_cap:
      if (ratio_exceeded(lim, e, got))
        job.limit(origin, "max_compression_ratio", true);
      else if (cap == budget)
        job.limit(origin, "max_archive_bytes", true);
      else
        job.limit(origin, "max_attachment_bytes", false);
      return false;
  }
  if (ratio_exceeded(lim, e, got)) {
    job.limit(origin, "max_compression_ratio", true);
    return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> read_member(Job& job, const ZipArchive& zip, std::uint64_t index,
                                       const std::string& origin, const char* format) {
  ZipArchive::Entry e = zip.entry(index);
  auto cap = member_cap(job, e, origin);
  if (!cap) return std::nullopt;
  std::string data;
  auto status = zip.read(index, *cap, data);
  if (!member_done(job, e, status, data.size(), *cap, origin, format)) return std::nullopt;
  return data;
}

bool stream_member(Job& job, const ZipArchive& zip, const std::string& name,
                   const std::string& origin, const char* format,
                   const std::function<void(std::string_view)>& sink) {
  auto index = zip.find(name);
  if (!index) return false;
  ZipArchive::Entry e = zip.entry(*index);
  auto cap = member_cap(job, e, origin);
  if (!cap) return false;
  std::size_t got = 0;
  auto status = zip.read_chunks(*index, *cap, sink, got);
  return member_done(job, e, status, got, *cap, origin, format);
}

std::optional<std::string> read_member(Job& job, const ZipArchive& zip, const std::string& name,
                                       const std::string& origin, const char* format) {
  auto index = zip.find(name);
  if (!index) return std::nullopt;
  return read_member(job, zip, *index, origin, format);
}

}  // namespace pm::attachments::detail
