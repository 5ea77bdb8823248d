#include "crmt/train/checkpoint.h"

#include <filesystem>

#include "crmt/core/atomic_file.h"
#include "crmt/core/checksum.h"
#include "crmt/core/error.h"

namespace crmt {

namespace fs = std::filesystem;

namespace {

// CRC-32 over the bytes of the model's tensors, parameters then buffers, in the model's order: a
// checkpoint damaged on disk fails it instead of loading garbage weights.
class WeightsChecksum {
 public:
  void add(const torch::Tensor& t) {
    auto c = t.detach().to(torch::kCPU).contiguous();
    crc_ = crc_of(c.data_ptr(), static_cast<uint64_t>(c.numel()) * c.element_size(), crc_);
  }
  int64_t value() const { return static_cast<int64_t>(crc_); }

 private:
  uint32_t crc_ = 0;
};

}  // namespace

void save_checkpoint(const std::string& path, const CheckpointInfo& info, MultiModalNet& net,
                     torch::optim::Optimizer* optimizer, const Method* method) {
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string("crmt-checkpoint-1")));
  archive.write("config", c10::IValue(info.config_yaml));
  archive.write("architecture", c10::IValue(info.architecture));
  archive.write("epoch", c10::IValue(info.epoch));
  archive.write("best_val_accuracy", c10::IValue(info.best_val_accuracy));
  archive.write("finished", c10::IValue(info.finished));
  // Flat "encoder_audio.body.0.weight" keys (not torch's nested archives), so that loading can
  // name the exact tensor that does not fit.
  torch::serialize::OutputArchive model;
  WeightsChecksum checksum;
  for (const auto& p : net->named_parameters()) {
    model.write(p.key(), p.value());
    checksum.add(p.value());
  }
  for (const auto& b : net->named_buffers()) {
    model.write(b.key(), b.value(), /*is_buffer=*/true);
    checksum.add(b.value());
  }
  archive.write("model", model);
  archive.write("model_crc32", c10::IValue(checksum.value()));
  if (optimizer) {
    torch::serialize::OutputArchive opt;
    optimizer->save(opt);
    archive.write("optimizer", opt);
  }
  if (method) {
    torch::serialize::OutputArchive state;
    method->save(state);
    archive.write("method", state);
  }
  // Serialized in memory first: LibTorch's writer throws from a destructor when its stream fails (a
  // full disk), which ends the process; a failing write of plain bytes is an ordinary error.
  std::string bytes;
  try {
    archive.save_to([&bytes](const void* data, size_t n) {
      bytes.append(static_cast<const char*>(data), n);
      return n;
    });
  } catch (const c10::Error& e) {
    fail("{}: cannot serialize the checkpoint: {}", path, e.what_without_backtrace());
  }
  write_file_atomically(path, bytes.data(), bytes.size());
}

CheckpointInfo load_checkpoint(const std::string& path, const std::string& expected_architecture, MultiModalNet& net,
                               torch::optim::Optimizer* optimizer, Method* method) {
  auto archive = open_checkpoint_archive(path);
  auto info = read_checkpoint_header(archive, path);
  if (info.architecture != expected_architecture)
    fail("{}: checkpoint is for a different architecture: it holds '{}' but '{}' was expected", path,
         info.architecture, expected_architecture);
  try {
    torch::serialize::InputArchive model;
    archive.read("model", model);
    torch::NoGradGuard no_grad;
    // Read and checked before anything is copied: a damaged file leaves the model untouched.
    WeightsChecksum checksum;
    std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;  // (model tensor, stored)
    auto take = [&](const std::string& kind, const std::string& key, torch::Tensor target, bool buffer) {
      torch::Tensor stored;
      model.read(key, stored, buffer);
      if (stored.sizes() != target.sizes())
        fail("{}: {} '{}' has shape [{}] but the model expects [{}]", path, kind, key,
             fmt::join(stored.sizes().vec(), ","), fmt::join(target.sizes().vec(), ","));
      if (stored.is_floating_point() && !torch::isfinite(stored).all().item<bool>())
        fail("{}: {} '{}' holds NaN or infinite values", path, kind, key);
      checksum.add(stored);
      copies.emplace_back(target, stored);
    };
    for (auto& p : net->named_parameters()) take("parameter", p.key(), p.value(), false);
    for (auto& b : net->named_buffers()) take("buffer", b.key(), b.value(), true);
    c10::IValue stored_crc;  // absent in checkpoints of crmt before the checksum
    if (archive.try_read("model_crc32", stored_crc) && stored_crc.isInt() && stored_crc.toInt() != checksum.value())
      fail("{}: checkpoint is corrupt: its weights fail their CRC-32 check (stored {:08x}, read {:08x})", path,
           stored_crc.toInt(), checksum.value());
    for (auto& [target, stored] : copies) target.copy_(stored);
    // Checkpoints hold host tensors. Optimizer and method state are read straight onto the model's
    // device (momentum buffers must sit with their parameters), so the file is read once more there.
    torch::serialize::InputArchive on_device_archive;
    const auto params = net->parameters();
    const auto device = params.empty() ? torch::Device(torch::kCPU) : params.front().device();
    auto* state_archive = &archive;
    if (!device.is_cpu() && (optimizer || method)) {
      on_device_archive.load_from(path, device);
      state_archive = &on_device_archive;
    }
    if (optimizer) {
      torch::serialize::InputArchive opt;
      if (state_archive->try_read("optimizer", opt)) optimizer->load(opt);
    }
    if (method) {
      torch::serialize::InputArchive state;
      if (state_archive->try_read("method", state)) method->load(state);
    }
  } catch (const c10::Error& e) {
    fail("{}: checkpoint does not fit this model: {}", path, e.what_without_backtrace());
  }
  return info;
}

}  // namespace crmt
