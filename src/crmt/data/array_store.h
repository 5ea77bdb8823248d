#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "crmt/core/checksum.h"  // crc_of, used by the store and its readers

namespace crmt {

// The path of file `name` in folder `dir`.
std::string join_path(const std::string& dir, const std::string& name);

// A folder of raw arrays plus a JSON manifest (meta.json) that lists them. Each array is one file of
// its elements in native (little-endian) byte order, no header; the manifest entry records its
// dtype, shape, size and CRC-32, so that a missing, truncated or corrupt file is caught on loading.
// The layout is documented in docs/dataset.md and must stay byte-for-byte stable: caches prepared by
// earlier builds are read back as they are.

// Appended to every error about a stale or damaged store: only `crmt data prepare` writes one.
inline constexpr const char* kPrepareHint = "run `crmt data prepare --force` to rebuild the cache";

// One array file's manifest entry.
struct ArrayFile {
  std::string name;   // file name inside the store's folder
  std::string split;  // train / test
  std::string role;   // visual / audio / labels
  std::string dtype;  // uint8 / float16 / int64
  std::vector<int64_t> shape;
  uint64_t bytes = 0;
  uint32_t crc = 0;
};

// Writes `t` (uint8, float16 or int64) to dir/name atomically and returns its manifest entry.
ArrayFile save_array(const std::string& dir, const std::string& name, const std::string& split,
                     const std::string& role, const at::Tensor& t);

// The manifest entry as JSON: name, split, role, dtype, shape, bytes, crc32.
nlohmann::json array_file_json(const ArrayFile& f);

// Reads the array that manifest entry `entry` describes from `dir`, checking size and CRC. Throws
// crmt::Error naming the file (or `manifest_path` for a bad entry) and asking for a rebuild.
at::Tensor load_array(const std::string& dir, const nlohmann::json& entry, const std::string& manifest_path);

// Whether every entry of `files` names a file in `dir` of the recorded size (no CRC: cheap enough to
// decide whether a store can be reused); otherwise `why` names the first file that is not. A
// malformed entry throws nlohmann::json::exception.
bool array_files_present(const std::string& dir, const nlohmann::json& files, std::string& why);

// Parses the manifest at `path` into `out`; false with `why` ("missing", "not valid JSON: ...")
// when it cannot.
bool read_manifest(const std::string& path, nlohmann::json& out, std::string* why);

// Writes `manifest` to `path` atomically, indented by 2 and ending in a newline.
void write_manifest(const std::string& path, const nlohmann::json& manifest);

}  // namespace crmt
