// libFuzzer target for the decode pass: any bytes in, no crash, no leak, no hang.
// Small limits keep each run fast so the fuzzer explores structure, not size.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "decode/decode.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  pm::Limits limits;
  limits.max_message_bytes = 4u << 20;
  limits.max_parts = 200;
  limits.max_decoded_bytes = 8u << 20;
  const pm::DecodedMessage m =
      pm::decode_message(std::string_view(reinterpret_cast<const char*>(data), size), limits);
  std::size_t total = 0;
  for (const pm::Segment& s : m.segments) total += s.text.size();
  if (total != m.decoded_bytes) __builtin_trap();  // the invariant the engine relies on
  return 0;
}
