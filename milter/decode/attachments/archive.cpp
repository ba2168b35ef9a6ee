// Plain zip archives: every member is read under the job's limits and dispatched like an
// attachment of its own, with the origin "attachment:pack.zip/folder/list.xlsx".
#include <stdexcept>

#include "decode/attachments/internal.h"
#include "decode/attachments/zip_archive.h"

namespace pm::attachments::detail {

void read_zip(Job& job, const std::string& origin, std::string_view bytes, unsigned depth) {
  if (depth >= job.limits().max_archive_depth) {
    job.limit(origin, "max_archive_depth", false);
    return;
  }
  ZipArchive zip(bytes);  // throws on a truncated / unreadable archive -> corrupt:zip
  std::uint64_t n = zip.count();
  if (n > job.limits().max_archive_members) {
    job.limit(origin, "max_archive_members", true);
    return;
  }
  for (std::uint64_t i = 0; i < n && !job.stopped; ++i) {
    ZipArchive::Entry e = zip.entry(i);
    // Directories, and the resource-fork copies macOS adds to every zip it makes.
    if (e.is_dir || e.name.empty() || e.name.rfind("__MACOSX/", 0) == 0) continue;
    std::string member_origin = origin + "/" + e.name;
    auto data = read_member(job, zip, i, member_origin);
    if (!data) continue;
    std::string base = e.name.substr(e.name.rfind('/') + 1);
    dispatch(job, member_origin, base, "", *data, depth + 1);
  }
}

}  // namespace pm::attachments::detail
