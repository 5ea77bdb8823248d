#include "crmt/models/pretrained.h"

#include <torch/script.h>
#include <torch/serialize.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <vector>

#include "crmt/core/error.h"

namespace crmt {

namespace {

using NamedTensors = std::map<std::string, at::Tensor>;

std::string first_line(const std::string& text) {
  auto line = text.substr(0, text.find('\n'));
  return line.size() > 200 ? line.substr(0, 200) + "..." : line;
}

// A dict of name -> tensor saved with torch.save (false when `bytes` is none). LibTorch 1.13's
// unpickler fails on what torch.save(m.state_dict()) writes (an OrderedDict with a _metadata
// attribute); torch.save(dict(m.state_dict()), path) loads.
bool read_state_dict(const std::vector<char>& bytes, NamedTensors& out) {
  c10::IValue value;
  try {
    value = torch::pickle_load(bytes);
  } catch (const std::exception&) {
    return false;
  }
  if (!value.isGenericDict()) return false;
  for (const auto& entry : value.toGenericDict()) {
    if (!entry.key().isString() || !entry.value().isTensor()) return false;
    out[entry.key().toStringRef()] = entry.value().toTensor();
  }
  return true;
}

NamedTensors read_tensors(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail("{}: no such file (pretrained resnet18 weights)", path);
  NamedTensors out;
  try {
    auto module = torch::jit::load(path, torch::kCPU);
    for (const auto& p : module.named_parameters(/*recurse=*/true)) out[p.name] = p.value;
    for (const auto& b : module.named_buffers(/*recurse=*/true)) out[b.name] = b.value;
    return out;
  } catch (const std::exception& e) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    out.clear();
    if (read_state_dict(bytes, out)) return out;
    fail("{}: not a TorchScript archive (torch.jit.save) nor a dict of tensors (torch.save(dict(m.state_dict()), "
         "path)): {}",
         path, first_line(e.what()));
  }
}

std::string shape_of(const at::Tensor& t) { return fmt::format("[{}]", fmt::join(t.sizes(), ", ")); }

}  // namespace

void load_pretrained_resnet18(ResNet18Impl& encoder, const std::string& path) {
  const auto source = read_tensors(path);
  std::vector<std::pair<at::Tensor, at::Tensor>> copies;  // (destination, source), all checked first
  std::map<std::string, bool> wanted;
  auto take = [&](const std::string& name, const at::Tensor& dst) {
    wanted[name] = true;
    auto it = source.find(name);
    if (it == source.end()) fail("{}: no tensor '{}' (expected torchvision's resnet18)", path, name);
    at::Tensor src = it->second;
    if (name == "conv1.weight" && src.dim() == 4 && src.size(1) == 3 && dst.dim() == 4 && dst.size(1) != 3 &&
        src.size(0) == dst.size(0) && src.size(2) == dst.size(2) && src.size(3) == dst.size(3))
      src = src.mean(1, /*keepdim=*/true).repeat({1, dst.size(1), 1, 1});  // RGB filters for a 1/2-channel stem
    if (!src.sizes().equals(dst.sizes()))
      fail("{}: tensor '{}' has shape {} but the encoder's is {}", path, name, shape_of(it->second), shape_of(dst));
    copies.emplace_back(dst, src);
  };
  for (const auto& p : encoder.named_parameters(/*recurse=*/true)) take(p.key(), p.value());
  for (const auto& b : encoder.named_buffers(/*recurse=*/true)) take(b.key(), b.value());
  for (const auto& [name, tensor] : source)
    if (!wanted.count(name) && name.rfind("fc.", 0) != 0)
      fail("{}: tensor '{}' is not part of resnet18 (expected torchvision's resnet18)", path, name);
  torch::NoGradGuard no_grad;
  for (auto& [dst, src] : copies) dst.copy_(src);
}

}  // namespace crmt
