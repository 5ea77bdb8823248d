#include "crmt/media/io/idx_reader.h"

#include <zlib.h>

#include <algorithm>
#include <filesystem>

#include "crmt/core/error.h"

namespace crmt {

int64_t IdxArray::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

namespace {

constexpr uint8_t kUnsignedByte = 0x08;

struct GzFile {
  gzFile f = nullptr;
  ~GzFile() {
    if (f) gzclose(f);
  }
};

// Reads exactly `n` bytes; returns how many were read before the end of the stream.
int64_t read_fully(gzFile f, uint8_t* out, int64_t n, const std::string& path) {
  int64_t done = 0;
  while (done < n) {
    unsigned chunk = static_cast<unsigned>(std::min<int64_t>(n - done, 1 << 30));
    int got = gzread(f, out + done, chunk);
    if (got < 0) {
      int errnum = 0;
      const char* msg = gzerror(f, &errnum);
      fail("{}: corrupt gzip stream ({})", path, msg ? msg : "unknown zlib error");
    }
    if (got == 0) break;
    done += got;
  }
  return done;
}

uint32_t big_endian_u32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

IdxArray read_idx(const std::string& path, int expected_dims, int64_t max_items) {
  if (!std::filesystem::exists(path)) fail("{}: file not found (an idx file was expected)", path);
  GzFile file;
  file.f = gzopen(path.c_str(), "rb");
  if (!file.f) fail("{}: cannot open for reading", path);
  gzbuffer(file.f, 1 << 17);

  uint8_t magic[4];
  if (read_fully(file.f, magic, 4, path) != 4) fail("{}: truncated idx file (no 4-byte magic number)", path);
  if (magic[0] != 0 || magic[1] != 0)
    fail("{}: bad idx magic number 0x{:02x}{:02x}{:02x}{:02x} (expected 0x0000TTDD)", path, magic[0], magic[1],
         magic[2], magic[3]);
  if (magic[2] != kUnsignedByte)
    fail("{}: unsupported idx element type 0x{:02x} (only unsigned bytes, 0x08, are supported)", path, magic[2]);
  int dims = magic[3];
  if (dims == 0) fail("{}: bad idx magic number: zero dimensions", path);
  if (expected_dims >= 0 && dims != expected_dims)
    fail("{}: idx file has {} dimensions but {} were expected", path, dims, expected_dims);

  IdxArray out;
  std::vector<uint8_t> header(4 * static_cast<size_t>(dims));
  if (read_fully(file.f, header.data(), static_cast<int64_t>(header.size()), path) != static_cast<int64_t>(header.size()))
    fail("{}: truncated idx header (expected {} dimension sizes)", path, dims);
  int64_t numel = 1;
  const bool partial = max_items >= 0 && max_items < static_cast<int64_t>(big_endian_u32(header.data()));
  for (int d = 0; d < dims; ++d) {
    int64_t size = big_endian_u32(header.data() + 4 * d);
    if (d == 0 && partial) size = max_items;
    out.shape.push_back(size);
    // Checked before multiplying: the product of a few 32-bit sizes overflows 64 bits.
    constexpr int64_t kMaxElements = int64_t{1} << 36;
    if (size > 0 && numel > kMaxElements / size) fail("{}: idx dimensions are implausibly large", path);
    numel *= size;
  }
  // The header's sizes are not trusted with the allocation: the data is read in chunks, so a file
  // that claims gigabytes it does not hold fails as truncated without reserving them (found by
  // fuzz_idx: a 20-byte file asked for 35 GB).
  constexpr int64_t kChunk = int64_t{1} << 24;
  int64_t got = 0;
  while (got < numel) {
    const int64_t want = std::min(kChunk, numel - got);
    out.data.resize(static_cast<size_t>(got + want));
    const int64_t n = read_fully(file.f, out.data.data() + got, want, path);
    got += n;
    if (n < want) break;
  }
  if (got != numel) fail("{}: truncated idx data: {} of {} bytes", path, got, numel);
  uint8_t extra;
  if (!partial && read_fully(file.f, &extra, 1, path) != 0) fail("{}: trailing bytes after {} bytes of idx data", path, numel);
  return out;
}

void write_idx_gz(const std::string& path, const IdxArray& array) {
  if (array.shape.empty() || array.shape.size() > 255) fail("{}: an idx array needs 1 to 255 dimensions", path);
  if (static_cast<int64_t>(array.data.size()) != array.numel())
    fail("{}: idx array has {} bytes but its shape needs {}", path, array.data.size(), array.numel());
  GzFile file;
  file.f = gzopen(path.c_str(), "wb");
  if (!file.f) fail("{}: cannot open for writing", path);
  std::vector<uint8_t> header{0, 0, kUnsignedByte, static_cast<uint8_t>(array.shape.size())};
  for (auto d : array.shape) {
    auto u = static_cast<uint32_t>(d);
    header.insert(header.end(), {static_cast<uint8_t>(u >> 24), static_cast<uint8_t>(u >> 16),
                                 static_cast<uint8_t>(u >> 8), static_cast<uint8_t>(u)});
  }
  auto write = [&](const uint8_t* p, size_t n) {
    if (n && gzwrite(file.f, p, static_cast<unsigned>(n)) != static_cast<int>(n)) fail("{}: write failed", path);
  };
  write(header.data(), header.size());
  write(array.data.data(), array.data.size());
  int rc = gzclose(file.f);
  file.f = nullptr;
  if (rc != Z_OK) fail("{}: write failed when closing", path);
}

}  // namespace crmt
