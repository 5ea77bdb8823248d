#pragma once
#include <ATen/core/Tensor.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "crmt/models/resnet.h"

namespace torch::nn {
class Module;
}

namespace crmt {

// Pretrained weights come from a file the user makes in Python, either a TorchScript archive
//   torch.jit.save(torch.jit.script(m), "w.pt")      # or torch.jit.trace(m, example_input)
// or a plain dict of tensors
//   torch.save(dict(m.state_dict()), "w.pth")
// (the dict() matters: LibTorch cannot read the OrderedDict of a bare state_dict(), nor
// torchvision's legacy-format downloads such as resnet18-f37072fd.pth). docs/models.md shows the
// export of torchvision's ResNets and timm's ViTs.

// Every tensor of such a file by name (parameters and buffers). crmt::Error naming the file when it
// is missing or neither kind of archive.
std::map<std::string, at::Tensor> read_pretrained_tensors(const std::string& path);

// How a module's tensors are found in a file.
struct PretrainedMapping {
  std::string expected;  // what the file should hold, for messages: "torchvision's resnet18"
  // The file's name for the module's tensor `name`; "" = the tensor keeps its initialisation (a
  // module the file's network lacks, e.g. MMTM's or a modality embedding). Identity by default.
  std::function<std::string(const std::string& name)> source_name;
  // File tensors that nothing takes and may be left (a classifier: "fc.", "head.").
  std::vector<std::string> unused_prefixes;
  // Turns a file tensor into one of the module tensor's shape where that is meaningful (RGB stem
  // filters for a 1-channel stem, a position embedding for another patch grid); returns `src`
  // unchanged otherwise. None = no adaptation beyond the RGB stem rule below.
  std::function<at::Tensor(const std::string& name, const at::Tensor& src, const at::Tensor& dst)> adapt;
};

// Copies the file's tensors into `module` (parameters and buffers) by the mapping. A 4-d weight
// whose file version has 3 input channels and the module's another count (a spectrogram's or
// optical flow's stem) gets the RGB filters averaged over channels and repeated (the official CRMT
// backbone's load_pretrain). Everything is checked before anything is copied; crmt::Error (one
// line, naming the file) lists every problem at once: tensors the file lacks, tensors of another
// shape, and file tensors that nothing takes (outside unused_prefixes).
void load_pretrained(torch::nn::Module& module, const std::string& path, const PretrainedMapping& mapping);

// torchvision's resnet18 / resnet34 (matching the encoder's depth) into a ResNet encoder: every
// parameter and buffer (running statistics included) by its torchvision name; fc.* is ignored.
void load_pretrained_resnet(ResNetImpl& encoder, const std::string& path);

}  // namespace crmt
