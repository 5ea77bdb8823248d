#pragma once
#include <string>

#include "crmt/core/config.h"
#include "crmt/core/modality.h"
#include "crmt/models/multimodal_net.h"

namespace crmt {

// Builds the model that the `model` section of a config describes, for data with these modalities
// and classes. Image-like modalities ([C, H, W] or [T, C, H, W]) get the configured encoder; flat
// feature vectors ([D]) get an MLP (or a linear map when model.encoder is linear).
MultiModalNet build_model(const Config& config, const ModalitySpecs& specs, int64_t num_classes);

// A one-line description of the architecture (encoders, head, shapes, classes), stored in
// checkpoints so that loading into a different model fails with a clear message.
std::string describe_architecture(MultiModalNet& net);

}  // namespace crmt
