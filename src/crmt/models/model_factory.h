#pragma once
#include <string>

#include "crmt/core/config.h"
#include "crmt/core/modality.h"
#include "crmt/models/multimodal_net.h"

namespace crmt {

// Builds the model that the `model` section of a config describes, for data with these modalities
// and classes. model.fusion late: image-like modalities ([C, H, W] or [T, C, H, W]) get the
// configured encoder (model.encoder, or the modality's entry in model.encoders); flat feature
// vectors ([D]) get an MLP (or a linear map when the encoder is linear). model.fusion mmtm: ResNet
// streams joined by MMTMs; transformer: one joint multi-modal transformer. model.pretrained loads
// torchvision ResNet or timm ViT weights into the encoders of model.pretrained_modalities ([] = all
// that take them) unless `load_pretrained` is false (a caller that loads a checkpoint next has no
// use for them, and the file may be gone).
MultiModalNet build_model(const Config& config, const ModalitySpecs& specs, int64_t num_classes,
                          bool load_pretrained = true);

// A one-line description of the architecture (encoders, head, shapes, classes), stored in
// checkpoints so that loading into a different model fails with a clear message.
std::string describe_architecture(MultiModalNet& net);

// Moves `net` to `device`, and on a GPU does what model.channels_last and cudnn_benchmark ask for:
// ResNet encoders keep their convolutions in channels-last memory, and cuDNN times its algorithms
// for the fixed shapes. On a CPU only the move (results there stay bit-identical).
void place_on_device(MultiModalNet& net, const Config& config, const c10::Device& device);

}  // namespace crmt
