#pragma once
#include <string>

#include "crmt/models/resnet.h"

namespace crmt {

// Copies ImageNet-pretrained weights into a ResNet-18 encoder. `path` is a TorchScript archive of
// torchvision's resnet18, made in Python by
//   m = torchvision.models.resnet18(weights="IMAGENET1K_V1")
//   torch.jit.save(torch.jit.script(m), "resnet18.pt")      # or torch.jit.trace(m, torch.rand(1, 3, 224, 224))
// or a dict of tensors saved with torch.save(dict(m.state_dict()), "resnet18.pth") (the dict() matters:
// LibTorch cannot read the OrderedDict of a bare state_dict(), nor torchvision's legacy-format
// download resnet18-f37072fd.pth). Every parameter and
// buffer of the encoder (running_mean, running_var, num_batches_tracked included) is taken by its
// torchvision name; fc.* is ignored, any other tensor the encoder lacks is an error (e.g. a
// resnet34). For a 1- or 2-channel stem (spectrogram, optical flow) conv1.weight [64, 3, 7, 7] is
// averaged over its input channels and repeated to the stem's channel count (the official CRMT
// backbone's load_pretrain). Errors (crmt::Error, nothing copied): the file is missing or neither
// kind of archive, a tensor is missing, or a tensor has another shape.
void load_pretrained_resnet18(ResNet18Impl& encoder, const std::string& path);

}  // namespace crmt
