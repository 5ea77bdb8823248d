#include "crmt/train/checkpoint_info.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <vector>

#include "crmt/core/checksum.h"
#include "crmt/core/error.h"

namespace crmt {
namespace {

// LibTorch's reader neither checks the CRC-32 its zip writer stores for every record nor survives
// every damaged pickle (fuzzing found one that ends the process from inside its type parser). So
// the zip structure and each stored record's CRC-32 are checked first: a damaged file is refused
// before LibTorch parses it. Zip64 fields are followed; compressed records (the TorchScript code of
// the module classes) are left to LibTorch.
class ZipCheck {
 public:
  explicit ZipCheck(const std::string& path) : path_(path), in_(path, std::ios::binary) {
    in_.seekg(0, std::ios::end);
    size_ = static_cast<uint64_t>(in_.tellg());
  }

  void run() {
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
      const uint16_t method = u16(cd, at + 10);
      const uint32_t crc = u32(cd, at + 16);
      uint64_t compressed = u32(cd, at + 20), offset = u32(cd, at + 42);
      const uint64_t uncompressed = u32(cd, at + 24);
      const uint64_t name_len = u16(cd, at + 28), extra_len = u16(cd, at + 30), comment_len = u16(cd, at + 32);
      if (at + 46 + name_len + extra_len > cd.size()) damaged("central directory entry " + std::to_string(e));
      const std::string name(cd.begin() + static_cast<std::ptrdiff_t>(at + 46),
                             cd.begin() + static_cast<std::ptrdiff_t>(at + 46 + name_len));
      // Zip64 extra field: the 64-bit values of the fields stored as 0xFFFFFFFF, in this order.
      for (uint64_t x = at + 46 + name_len; x + 4 <= at + 46 + name_len + extra_len;) {
        const uint16_t id = u16(cd, x), len = u16(cd, x + 2);
        if (id == 0x0001) {
          uint64_t v = x + 4;
          if (uncompressed == 0xFFFFFFFF) v += 8;
          if (compressed == 0xFFFFFFFF) compressed = u64(cd, v), v += 8;
          if (offset == 0xFFFFFFFF) offset = u64(cd, v);
        }
        x += 4 + len;
      }
      if (method == 0) check_record(name, offset, compressed, crc);
      if (name.size() > 4 && name.compare(name.size() - 4, 4, ".pkl") == 0) {
        if (method != 0) damaged("record '" + name + "' is compressed");
        check_pickle(name, record_bytes(offset, compressed));
      }
      at += 46 + name_len + extra_len + comment_len;
    }
  }

 private:
  [[noreturn]] void damaged(const std::string& what) const {
    fail("{}: not a readable checkpoint (damaged or truncated file: {})", path_, what);
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

  std::vector<uint8_t> record_bytes(uint64_t offset, uint64_t bytes) {
    if (bytes > (64u << 20)) damaged("a pickle record of " + std::to_string(bytes) + " bytes");
    return read(record_start("pickle", offset), bytes);
  }

  // The pickles of a crmt checkpoint name only the classes and functions LibTorch's own writer
  // puts there; anything else (a forged or damaged name reaches LibTorch's type parser, which can
  // end the process) is refused. The opcodes are walked, not searched, so tensor bytes are skipped.
  void check_pickle(const std::string& name, const std::vector<uint8_t>& p) {
    auto refuse = [&](const std::string& why) { damaged("record '" + name + "': " + why); };
    auto line = [&](size_t& i) {
      const size_t end = std::find(p.begin() + static_cast<std::ptrdiff_t>(i), p.end(), '\n') - p.begin();
      if (end >= p.size()) refuse("unterminated name");
      std::string text(p.begin() + static_cast<std::ptrdiff_t>(i), p.begin() + static_cast<std::ptrdiff_t>(end));
      i = end + 1;
      return text;
    };
    auto skip = [&](size_t& i, uint64_t n) {
      if (n > p.size() - i) refuse("truncated");
      i += n;
    };
    auto length = [&](size_t& i, int bytes) {
      if (static_cast<size_t>(bytes) > p.size() - i) refuse("truncated");
      uint64_t n = 0;
      for (int b = bytes - 1; b >= 0; --b) n = n << 8 | p[i + b];
      i += bytes;
      return n;
    };
    for (size_t i = 0; i < p.size();) {
      const uint8_t op = p[i++];
      switch (op) {
        case '.': return;  // STOP
        case 'c': {        // GLOBAL module\nname\n
          const auto module = line(i), global = line(i);
          if (!allowed_global(module, global)) refuse("unexpected class '" + module + "." + global + "'");
          break;
        }
        case '(': case ')': case 't': case 'u': case '}': case ']': case 'e': case 'a': case 's': case 'R':
        case 'b': case 'N': case 0x88: case 0x89: case 0x85: case 0x86: case 0x87: case 'Q': case '0': case '1':
        case '2': case 0x81: case 'l': case 'd':
          break;
        case 0x80: case 'K': case 'q': case 'h': skip(i, 1); break;
        case 'M': skip(i, 2); break;
        case 'J': case 'r': case 'j': skip(i, 4); break;
        case 'G': skip(i, 8); break;
        case 'X': case 'T': case 'B': skip(i, length(i, 4)); break;
        case 'U': case 'C': case 0x8a: skip(i, length(i, 1)); break;
        case 0x8b: skip(i, length(i, 4)); break;
        default: refuse("unexpected pickle opcode " + std::to_string(op));
      }
    }
    refuse("no STOP opcode");
  }

  static bool allowed_global(const std::string& module, const std::string& name) {
    static const char* kStorages[] = {"Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte",
                                      "Bool", "ComplexFloat", "ComplexDouble"};
    if (name == "Module") {
      if (module == "__torch__") return true;
      const std::string mangled = "__torch__.___torch_mangle_";
      return module.size() > mangled.size() && module.compare(0, mangled.size(), mangled) == 0 &&
             module.find_first_not_of("0123456789", mangled.size()) == std::string::npos;
    }
    if (module == "torch._utils") return name == "_rebuild_tensor_v2";
    if (module == "collections") return name == "OrderedDict";
    if (module == "torch")
      for (const char* s : kStorages)
        if (name == std::string(s) + "Storage") return true;
    return false;
  }

  void check_record(const std::string& name, uint64_t offset, uint64_t bytes, uint32_t crc) {
    uint64_t at = record_start(name, offset);
    uint32_t got = 0;
    constexpr uint64_t kChunk = 1 << 22;
    for (uint64_t left = bytes; left > 0;) {
      const uint64_t n = std::min(left, kChunk);
      const auto chunk = read(at, n);
      got = crc_of(chunk.data(), n, got);
      at += n;
      left -= n;
    }
    if (got != crc) fail("{}: damaged checkpoint: the CRC-32 of its record '{}' does not match", path_, name);
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
};

}  // namespace

void check_checkpoint_integrity(const std::string& path) { ZipCheck(path).run(); }

torch::serialize::InputArchive open_checkpoint_archive(const std::string& path) {
  if (!std::filesystem::exists(path)) fail("{}: checkpoint not found", path);
  check_checkpoint_integrity(path);
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
  } catch (const std::exception&) {  // c10::Error, or the TorchScript importer's ErrorReport
    fail("{}: not a readable checkpoint (corrupt or truncated file)", path);
  }
  c10::IValue format;
  bool tagged = false;
  try {
    tagged = archive.try_read("format", format) && format.isString() && format.toStringRef() == "crmt-checkpoint-1";
  } catch (const std::exception&) {
  }
  if (!tagged) fail("{}: not a crmt checkpoint (no 'crmt-checkpoint-1' format tag)", path);
  return archive;
}

CheckpointInfo read_checkpoint_header(torch::serialize::InputArchive& archive, const std::string& path) {
  // A field of the wrong type (a damaged or forged file) is an error naming it, not LibTorch's.
  auto field = [&](const char* key, bool (c10::IValue::*is)() const, const char* kind) {
    c10::IValue v;
    bool present = false;
    try {
      present = archive.try_read(key, v);
    } catch (const c10::Error&) {
    }
    if (!present || !(v.*is)()) fail("{}: checkpoint field '{}' is missing or not a {}", path, key, kind);
    return v;
  };
  CheckpointInfo info;
  info.config_yaml = field("config", &c10::IValue::isString, "string").toStringRef();
  info.architecture = field("architecture", &c10::IValue::isString, "string").toStringRef();
  info.epoch = field("epoch", &c10::IValue::isInt, "integer").toInt();
  info.best_val_accuracy = field("best_val_accuracy", &c10::IValue::isDouble, "number").toDouble();
  c10::IValue v;
  try {
    if (archive.try_read("finished", v) && v.isBool()) info.finished = v.toBool();  // absent before crmt kept it
  } catch (const c10::Error&) {
  }
  return info;
}

CheckpointInfo read_checkpoint_info(const std::string& path) {
  auto archive = open_checkpoint_archive(path);
  return read_checkpoint_header(archive, path);
}

}  // namespace crmt
