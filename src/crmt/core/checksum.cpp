#include "crmt/core/checksum.h"

#include <zlib.h>

#include <algorithm>

namespace crmt {

uint32_t crc_of(const void* data, uint64_t bytes, uint32_t crc) {
  uLong running = crc;
  auto p = static_cast<const Bytef*>(data);
  while (bytes > 0) {
    // zlib takes a uInt length: feed it pieces of at most 1 GiB.
    uInt n = static_cast<uInt>(std::min<uint64_t>(bytes, 1u << 30));
    running = crc32(running, p, n);
    p += n;
    bytes -= n;
  }
  return static_cast<uint32_t>(running);
}

}  // namespace crmt
