#pragma once
#include <cstdint>

namespace crmt {

// zlib's CRC-32 of `bytes` bytes (any size: fed to zlib in pieces of at most 1 GiB). Pass the CRC of
// what came before as `crc` to checksum several pieces as one stream.
uint32_t crc_of(const void* data, uint64_t bytes, uint32_t crc = 0);

}  // namespace crmt
