#include "crmt/train/checkpoint_info.h"

#include <filesystem>

#include "crmt/core/error.h"
#include "crmt/train/checkpoint_integrity.h"

namespace crmt {

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
