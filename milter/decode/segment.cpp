#include "decode/segment.h"

namespace pm {

const char* to_string(SegmentKind kind) {
  switch (kind) {
    case SegmentKind::header: return "header";
    case SegmentKind::body: return "body";
    case SegmentKind::signature: return "signature";
    case SegmentKind::links: return "links";
    case SegmentKind::attachment: return "attachment";
  }
  return "unknown";
}

}  // namespace pm
