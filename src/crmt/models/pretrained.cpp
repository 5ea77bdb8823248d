#include "crmt/models/pretrained.h"

#include <torch/nn/module.h>
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

}  // namespace

std::map<std::string, at::Tensor> read_pretrained_tensors(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail("{}: no such file (pretrained weights)", path);
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

namespace {

std::string shape_of(const at::Tensor& t) { return fmt::format("[{}]", fmt::join(t.sizes(), ", ")); }

at::Tensor average_rgb_filters(const at::Tensor& src, const at::Tensor& dst) {
  if (src.dim() == 4 && src.size(1) == 3 && dst.dim() == 4 && dst.size(1) != 3 && src.size(0) == dst.size(0) &&
      src.size(2) == dst.size(2) && src.size(3) == dst.size(3))
    return src.mean(1, /*keepdim=*/true).repeat({1, dst.size(1), 1, 1});
  return src;
}

}  // namespace

void load_pretrained(torch::nn::Module& module, const std::string& path, const PretrainedMapping& mapping) {
  const auto source = read_pretrained_tensors(path);
  std::vector<std::pair<at::Tensor, at::Tensor>> copies;  // (destination, source), all checked first
  std::map<std::string, bool> used;
  std::vector<std::string> problems;
  auto take = [&](const std::string& name, const at::Tensor& dst) {
    const auto from = mapping.source_name ? mapping.source_name(name) : name;
    if (from.empty()) return;
    auto it = source.find(from);
    if (it == source.end()) {
      problems.push_back(fmt::format("no tensor '{}'", from) + (from == name ? "" : fmt::format(" (for '{}')", name)));
      return;
    }
    used[from] = true;
    at::Tensor src = average_rgb_filters(it->second, dst);
    if (mapping.adapt && !src.sizes().equals(dst.sizes())) src = mapping.adapt(name, src, dst);
    if (!src.sizes().equals(dst.sizes())) {
      problems.push_back(fmt::format("tensor '{}' has shape {} but the model's '{}' is {}", from,
                                     shape_of(it->second), name, shape_of(dst)));
      return;
    }
    copies.emplace_back(dst, src);
  };
  for (const auto& p : module.named_parameters(/*recurse=*/true)) take(p.key(), p.value());
  for (const auto& b : module.named_buffers(/*recurse=*/true)) take(b.key(), b.value());
  for (const auto& [name, tensor] : source) {
    if (used.count(name)) continue;
    bool may_stay = false;
    for (const auto& prefix : mapping.unused_prefixes) may_stay = may_stay || name.rfind(prefix, 0) == 0;
    if (!may_stay) problems.push_back(fmt::format("tensor '{}' is not part of the model", name));
  }
  if (!problems.empty()) {
    const size_t shown = std::min<size_t>(problems.size(), 12);
    std::vector<std::string> head(problems.begin(), problems.begin() + static_cast<std::ptrdiff_t>(shown));
    fail("{}: does not fit the model (expected {}): {} problem{}: {}{}", path, mapping.expected, problems.size(),
         problems.size() == 1 ? "" : "s", fmt::join(head, "; "),
         shown < problems.size() ? fmt::format("; and {} more", problems.size() - shown) : "");
  }
  torch::NoGradGuard no_grad;
  for (auto& [dst, src] : copies) dst.copy_(src);
}

void load_pretrained_resnet(ResNetImpl& encoder, const std::string& path) {
  PretrainedMapping mapping;
  mapping.expected = "torchvision's " + encoder.kind();
  mapping.unused_prefixes = {"fc."};
  load_pretrained(encoder, path, mapping);
}

}  // namespace crmt
