#include "crmt/train/checkpoint_integrity.h"

#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <vector>

#include "crmt/core/checksum.h"
#include "crmt/core/error.h"
#include "crmt/train/pickle_check.h"

namespace crmt {
namespace {

struct ZipRecord {
  uint16_t method = 0;  // 0 stored, 8 deflated
  uint32_t crc = 0;
  uint64_t offset = 0, compressed = 0, uncompressed = 0;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// LibTorch's reader checks neither the CRC-32 its zip writer stores for every record nor the
// pickles and TorchScript source it interprets; fuzzing found damaged and forged files that end
// the process inside it. So the whole archive is checked first, and a file LibTorch's own writer
// could not have produced is refused before LibTorch parses it.
class ZipCheck {
 public:
  explicit ZipCheck(const std::string& path) : path_(path), in_(path, std::ios::binary) {
    in_.seekg(0, std::ios::end);
    size_ = static_cast<uint64_t>(in_.tellg());
  }

  void run() {
    read_directory();
    std::string prefix;  // the archive's folder: "archive" for LibTorch, the file's stem for torch.save
    for (const auto& [name, record] : records_)
      if (ends_with(name, "/data.pkl") && name.find('/') == name.size() - 9) prefix = name.substr(0, name.size() - 8);
    if (prefix.empty()) damaged("no data.pkl record");
    PickleRecords lookup;
    lookup.data_prefix = prefix + "data/";
    lookup.stored_size = [this](const std::string& name) -> std::optional<uint64_t> {
      const auto it = records_.find(name);
      if (it == records_.end() || it->second.method != 0) return std::nullopt;
      return it->second.uncompressed;
    };
    for (const auto& [name, record] : records_) {
      const bool pickle = ends_with(name, ".pkl") || ends_with(name, ".debug_pkl"), source = ends_with(name, ".py");
      if (record.method != 0 && !(record.method == 8 && source)) damaged("record '" + name + "' is compressed");
      if (!pickle && !source) {
        if (record.method == 0) check_stored_crc(name, record);
        continue;
      }
      const auto bytes = record_bytes(name, record);
      try {
        if (pickle) check_torch_pickle(bytes, lookup);
        else check_module_source(std::string(bytes.begin(), bytes.end()));
      } catch (const Error& e) {
        damaged("record '" + name + "': " + e.what());
      }
    }
  }

 private:
  [[noreturn]] void damaged(const std::string& what) const {
    fail("{}: not a readable checkpoint (damaged or truncated file: {})", path_, what);
  }

  void read_directory() {
    // End of central directory: the last "PK\5\6" within the final 64 KiB + 22 bytes.
    const uint64_t tail_size = std::min<uint64_t>(size_, 65557);
    const auto tail = read(size_ - tail_size, tail_size);
    int64_t eocd = -1;
    for (int64_t i = static_cast<int64_t>(tail_size) - 22; i >= 0 && eocd < 0; --i)
      if (u32(tail, i) == 0x06054b50) eocd = i;
    if (eocd < 0) damaged("no zip end record (not a checkpoint, or truncated)");
    uint64_t entries = u16(tail, eocd + 10), cd_size = u32(tail, eocd + 12), cd_offset = u32(tail, eocd + 16);
    if (entries == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF) {
      const uint64_t locator = size_ - tail_size + static_cast<uint64_t>(eocd);
      if (locator < 20) damaged("zip64 locator missing");
      const auto loc = read(locator - 20, 20);
      if (u32(loc, 0) != 0x07064b50) damaged("zip64 locator missing");
      const auto record = read(u64(loc, 8), 56);
      if (u32(record, 0) != 0x06064b50) damaged("zip64 end record missing");
      entries = u64(record, 32), cd_size = u64(record, 40), cd_offset = u64(record, 48);
    }
    const auto cd = read(cd_offset, cd_size);
    uint64_t at = 0;
    for (uint64_t e = 0; e < entries; ++e) {
      if (at + 46 > cd.size() || u32(cd, at) != 0x02014b50) damaged("central directory entry " + std::to_string(e));
      ZipRecord r;
      r.method = u16(cd, at + 10);
      r.crc = u32(cd, at + 16);
      r.compressed = u32(cd, at + 20), r.uncompressed = u32(cd, at + 24), r.offset = u32(cd, at + 42);
      const uint64_t name_len = u16(cd, at + 28), extra_len = u16(cd, at + 30), comment_len = u16(cd, at + 32);
      if (at + 46 + name_len + extra_len > cd.size()) damaged("central directory entry " + std::to_string(e));
      const std::string name(cd.begin() + static_cast<std::ptrdiff_t>(at + 46),
                             cd.begin() + static_cast<std::ptrdiff_t>(at + 46 + name_len));
      // Zip64 extra field: the 64-bit values of the fields stored as 0xFFFFFFFF, in this order.
      for (uint64_t x = at + 46 + name_len; x + 4 <= at + 46 + name_len + extra_len;) {
        const uint16_t id = u16(cd, x), len = u16(cd, x + 2);
        if (id == 0x0001) {
          uint64_t v = x + 4;
          if (r.uncompressed == 0xFFFFFFFF) r.uncompressed = u64(cd, v), v += 8;
          if (r.compressed == 0xFFFFFFFF) r.compressed = u64(cd, v), v += 8;
          if (r.offset == 0xFFFFFFFF) r.offset = u64(cd, v);
        }
        x += 4 + len;
      }
      if (name.empty() || name.front() == '/' || name.find("..") != std::string::npos || name.find('\0') != std::string::npos)
        damaged("record name '" + name + "'");
      if (r.method == 0 && r.compressed != r.uncompressed) damaged("record '" + name + "' has two sizes");
      if (!records_.emplace(name, r).second) damaged("record '" + name + "' appears twice");
      at += 46 + name_len + extra_len + comment_len;
    }
  }

  std::vector<uint8_t> read(uint64_t offset, uint64_t n) {
    if (offset > size_ || n > size_ - offset) damaged("a record points past the end of the file");
    std::vector<uint8_t> buffer(n);
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(offset));
    in_.read(reinterpret_cast<char*>(buffer.data()), static_cast<std::streamsize>(n));
    if (!in_) damaged("cannot read");
    return buffer;
  }

  uint64_t record_start(const std::string& name, uint64_t offset) {
    const auto local = read(offset, 30);
    if (u32(local, 0) != 0x04034b50) damaged("record '" + name + "' has no local header");
    return offset + 30 + u16(local, 26) + u16(local, 28);
  }

  void check_stored_crc(const std::string& name, const ZipRecord& r) {
    uint64_t at = record_start(name, r.offset);
    uint32_t got = 0;
    constexpr uint64_t kChunk = 1 << 22;
    for (uint64_t left = r.compressed; left > 0;) {
      const uint64_t n = std::min(left, kChunk);
      const auto chunk = read(at, n);
      got = crc_of(chunk.data(), n, got);
      at += n;
      left -= n;
    }
    if (got != r.crc) fail("{}: damaged checkpoint: the CRC-32 of its record '{}' does not match", path_, name);
  }

  // A pickle or source record's bytes, inflated when deflated, its CRC-32 checked.
  std::vector<uint8_t> record_bytes(const std::string& name, const ZipRecord& r) {
    constexpr uint64_t kLimit = 64u << 20;
    if (r.uncompressed > kLimit || r.compressed > kLimit) damaged("record '" + name + "' is too large");
    auto stored = read(record_start(name, r.offset), r.compressed);
    std::vector<uint8_t> bytes;
    if (r.method == 0) {
      bytes = std::move(stored);
    } else {
      bytes.resize(r.uncompressed);
      z_stream z{};
      if (inflateInit2(&z, -MAX_WBITS) != Z_OK) damaged("zlib failed");
      z.next_in = stored.data();
      z.avail_in = static_cast<uInt>(stored.size());
      z.next_out = bytes.data();
      z.avail_out = static_cast<uInt>(bytes.size());
      const int status = inflate(&z, Z_FINISH);
      const bool complete = status == Z_STREAM_END && z.total_out == r.uncompressed;
      inflateEnd(&z);
      if (!complete) damaged("record '" + name + "' does not inflate to its size");
    }
    if (crc_of(bytes.data(), bytes.size()) != r.crc)
      fail("{}: damaged checkpoint: the CRC-32 of its record '{}' does not match", path_, name);
    return bytes;
  }

  static uint16_t u16(const std::vector<uint8_t>& b, uint64_t i) {
    return i + 2 <= b.size() ? static_cast<uint16_t>(b[i] | b[i + 1] << 8) : 0;
  }
  static uint32_t u32(const std::vector<uint8_t>& b, uint64_t i) {
    return i + 4 <= b.size() ? static_cast<uint32_t>(u16(b, i) | static_cast<uint32_t>(u16(b, i + 2)) << 16) : 0;
  }
  static uint64_t u64(const std::vector<uint8_t>& b, uint64_t i) {
    return static_cast<uint64_t>(u32(b, i)) | static_cast<uint64_t>(u32(b, i + 4)) << 32;
  }

  std::string path_;
  std::ifstream in_;
  uint64_t size_ = 0;
  std::map<std::string, ZipRecord> records_;
};

}  // namespace

void check_checkpoint_integrity(const std::string& path) { ZipCheck(path).run(); }

}  // namespace crmt
