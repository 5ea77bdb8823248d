#include "crmt/data/array_store.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "crmt/core/atomic_file.h"
#include "crmt/core/error.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace crmt {

namespace {


// The store knows three element types; another one would be written under a wrong name.
std::string dtype_name(at::ScalarType type, const std::string& path) {
  if (type == at::kByte) return "uint8";
  if (type == at::kHalf) return "float16";
  if (type == at::kLong) return "int64";
  fail("{}: cannot store a {} array (expected uint8, float16 or int64)", path, c10::toString(type));
}

at::ScalarType dtype_of(const std::string& dtype, const std::string& where) {
  if (dtype == "uint8") return at::kByte;
  if (dtype == "float16") return at::kHalf;
  if (dtype == "int64") return at::kLong;
  fail("{}: unknown dtype '{}' (expected uint8, float16 or int64)", where, dtype);
}

// The fields of a manifest entry that loading needs.
struct Entry {
  std::string name, dtype;
  std::vector<int64_t> shape;
  uint64_t bytes = 0;
  uint32_t crc = 0;
};

Entry parse_entry(const json& entry, const std::string& manifest_path) {
  Entry e;
  try {
    e.name = entry.at("name").get<std::string>();
    e.dtype = entry.at("dtype").get<std::string>();
    e.shape = entry.at("shape").get<std::vector<int64_t>>();
    e.bytes = entry.at("bytes").get<uint64_t>();
    e.crc = entry.at("crc32").get<uint32_t>();
  } catch (const json::exception& ex) {
    fail("{}: malformed entry in 'files' ({}); {}", manifest_path, ex.what(), kPrepareHint);
  }
  return e;
}

// Fails unless `path` exists with exactly `bytes` bytes: checked before reading, so that a
// truncated file is reported as such rather than as a short read.
void check_file_size(const std::string& path, uint64_t bytes) {
  std::error_code ec;
  if (!fs::exists(path, ec)) fail("{}: file of the embedded dataset is missing; {}", path, kPrepareHint);
  auto size = fs::file_size(path, ec);
  if (ec) fail("{}: cannot read the file size: {}", path, ec.message());
  if (size != bytes)
    fail("{}: file has {} bytes but {} were expected (truncated or overwritten); {}", path, size, bytes, kPrepareHint);
}

void read_exactly(const std::string& path, void* data, uint64_t bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open for reading", path);
  in.read(static_cast<char*>(data), static_cast<std::streamsize>(bytes));
  if (!in || static_cast<uint64_t>(in.gcount()) != bytes)
    fail("{}: read failed after {} bytes; {}", path, in.gcount(), kPrepareHint);
}

}  // namespace

std::string join_path(const std::string& dir, const std::string& name) { return (fs::path(dir) / name).string(); }

ArrayFile save_array(const std::string& dir, const std::string& name, const std::string& split,
                     const std::string& role, const at::Tensor& t) {
  auto c = t.contiguous();
  ArrayFile f;
  f.name = name;
  f.split = split;
  f.role = role;
  f.dtype = dtype_name(c.scalar_type(), join_path(dir, name));
  f.shape = c.sizes().vec();
  f.bytes = static_cast<uint64_t>(c.numel()) * c.element_size();
  f.crc = crc_of(c.data_ptr(), f.bytes);
  write_file_atomically(join_path(dir, name), c.data_ptr(), f.bytes);
  return f;
}

json array_file_json(const ArrayFile& f) {
  return json{{"name", f.name}, {"split", f.split}, {"role", f.role}, {"dtype", f.dtype},
              {"shape", f.shape}, {"bytes", f.bytes}, {"crc32", f.crc}};
}

at::Tensor load_array(const std::string& dir, const json& entry, const std::string& manifest_path) {
  const Entry e = parse_entry(entry, manifest_path);
  std::string path = join_path(dir, e.name);
  const auto dtype = dtype_of(e.dtype, manifest_path);
  // The shape is checked against the recorded size before anything is allocated (fuzzing: a shape
  // of 10^11 elements beside a small file asked for 147 GB).
  uint64_t needed = c10::elementSize(dtype);
  bool fits = true;
  for (const auto d : e.shape) {
    if (d < 0 || (d > 0 && needed > UINT64_MAX / static_cast<uint64_t>(d))) {
      fits = false;
      break;
    }
    needed *= static_cast<uint64_t>(d);
  }
  if (!fits || needed != e.bytes)
    fail("{}: meta.json says {} bytes but shape [{}] of {} needs {}; {}", path, e.bytes, fmt::join(e.shape, ","),
         e.dtype, fits ? std::to_string(needed) : std::string("more than 2^64"), kPrepareHint);
  check_file_size(path, e.bytes);
  auto t = torch::empty(e.shape, torch::TensorOptions().dtype(dtype));
  read_exactly(path, t.data_ptr(), e.bytes);
  if (crc_of(t.data_ptr(), e.bytes) != e.crc)
    fail("{}: checksum mismatch (the file is corrupt); {}", path, kPrepareHint);
  return t;
}

bool array_files_present(const std::string& dir, const json& files, std::string& why) {
  for (const auto& f : files) {
    std::error_code ec;
    auto path = join_path(dir, f.at("name").get<std::string>());
    if (!fs::exists(path, ec) || fs::file_size(path, ec) != f.at("bytes").get<uint64_t>())
      return why = path + " missing or of the wrong size", false;
  }
  return true;
}

namespace {

// A number no integer field could hold (found by fuzzing: nlohmann's get<int64_t>() of 1e85 is
// undefined behaviour), anywhere in the document; "" when there is none.
std::string out_of_range_number(const json& j) {
  if (j.is_number_float()) {
    const double v = j.get<double>();
    if (!std::isfinite(v) || std::abs(v) >= 9.2e18) return j.dump();
  }
  if (j.is_structured())
    for (const auto& item : j)
      if (auto bad = out_of_range_number(item); !bad.empty()) return bad;
  return "";
}

}  // namespace

bool read_manifest(const std::string& path, json& out, std::string* why) {
  std::ifstream in(path);
  if (!in) {
    if (why) *why = "missing";
    return false;
  }
  try {
    out = json::parse(in);
  } catch (const json::exception& e) {
    if (why) *why = std::string("not valid JSON: ") + e.what();
    return false;
  }
  if (const auto bad = out_of_range_number(out); !bad.empty()) {
    if (why) *why = "number out of range: " + bad;
    return false;
  }
  return true;
}

void write_manifest(const std::string& path, const json& manifest) {
  write_file_atomically(path, manifest.dump(2) + "\n");
}

}  // namespace crmt
