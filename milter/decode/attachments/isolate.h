// Runs an extractor in a forked child with a memory and a time limit, and brings back what it
// read (issue 11). Used for the readers whose libraries are the least trusted and the least
// bounded: legacy Office (libfreexl, wvWare). See isolate.cpp for the why and the cost.
//
// Errors: a crash, a timeout or the memory limit in the child become an Unscannable entry on
// `origin` (extractor-crash, extractor-timeout, limit:extractor_memory_bytes); a reader that
// throws is "corrupt:<format>". Throws std::runtime_error only when no child can be started
// (pipe/fork failed), which the caller's catch turns into corrupt.
// Thread safety: any thread may call it; the reader runs single-threaded in the child.
#pragma once

#include <functional>
#include <string>

#include "decode/attachments/internal.h"

namespace pm::attachments::detail {

void run_isolated(Job& job, const std::string& origin, const char* format,
                  const std::function<void(Job&)>& reader);

}  // namespace pm::attachments::detail
