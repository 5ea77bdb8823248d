#include "crmt/models/model_factory.h"

#include <algorithm>

#include "crmt/core/error.h"
#include "crmt/models/concat_head.h"
#include "crmt/models/feature_memory.h"
#include "crmt/models/head_factory.h"
#include "crmt/models/mlp.h"
#include "crmt/models/pretrained.h"
#include "crmt/models/resnet.h"
#include "crmt/models/small_cnn.h"

namespace crmt {

namespace {

std::shared_ptr<EncoderImpl> build_encoder(const Config& config, const ModalitySpec& spec) {
  const auto kind = config.str("model.encoder");
  if (kind != "linear" && kind != "mlp" && kind != "small_cnn" && kind != "resnet18")
    fail("model.encoder must be small_cnn, resnet18, mlp or linear, got '{}'", kind);
  const auto embed_dim = config.integer("model.embed_dim");
  const auto& shape = spec.shape;
  if (kind == "linear") return std::make_shared<MlpImpl>(spec.numel(), std::vector<int64_t>{}, embed_dim);
  if (kind == "mlp" || shape.size() == 1)
    return std::make_shared<MlpImpl>(spec.numel(), std::vector<int64_t>{config.integer("model.hidden_dim")}, embed_dim);
  if (shape.size() != 3 && shape.size() != 4)
    fail("modality '{}' has shape [{}]: image encoders need [C, H, W] or [T, C, H, W]", spec.name,
         fmt::join(shape, ","));
  int64_t channels = shape.size() == 3 ? shape[0] : shape[1];
  int64_t frames = shape.size() == 4 ? shape[0] : 1;
  if (kind == "small_cnn") {
    if (shape.size() == 4) fail("model.encoder small_cnn takes single images; modality '{}' has frames", spec.name);
    return std::make_shared<SmallCnnImpl>(channels, embed_dim);
  }
  if (kind == "resnet18") return std::make_shared<ResNet18Impl>(channels, frames);
  fail("model.encoder must be small_cnn, resnet18, mlp or linear, got '{}'", kind);
}

}  // namespace

MultiModalNet build_model(const Config& config, const ModalitySpecs& specs, int64_t num_classes, bool load_pretrained) {
  if (specs.empty()) fail("cannot build a model for data without modalities");
  if (num_classes < 2) fail("a classifier needs at least 2 classes, got {}", num_classes);
  // model.pretrained: ImageNet weights for the resnet18 encoders of model.pretrained_modalities ([] = all).
  const auto pretrained = config.str("model.pretrained");
  const auto pretrained_modalities = config.strings("model.pretrained_modalities");
  if (!pretrained.empty() && config.str("model.encoder") != "resnet18")
    fail("model.pretrained is set but model.encoder is '{}' (pretrained weights are for resnet18)",
         config.str("model.encoder"));
  if (pretrained.empty() && !pretrained_modalities.empty())
    fail("model.pretrained_modalities is set but model.pretrained is empty");
  for (const auto& name : pretrained_modalities) {
    bool known = false;
    for (const auto& spec : specs) known = known || spec.name == name;
    if (!known) {
      std::vector<std::string> names;
      for (const auto& spec : specs) names.push_back(spec.name);
      fail("model.pretrained_modalities: '{}' is not a modality of the data (it has {})", name, fmt::join(names, ", "));
    }
  }
  std::vector<std::shared_ptr<EncoderImpl>> encoders;
  std::vector<int64_t> dims;
  for (const auto& spec : specs) {
    encoders.push_back(build_encoder(config, spec));
    dims.push_back(encoders.back()->out_dim());
    const bool selected = pretrained_modalities.empty() ||
                          std::find(pretrained_modalities.begin(), pretrained_modalities.end(), spec.name) !=
                              pretrained_modalities.end();
    if (!load_pretrained || pretrained.empty() || !selected) continue;
    auto resnet = std::dynamic_pointer_cast<ResNet18Impl>(encoders.back());
    if (!resnet) {  // a 1-d modality gets an MLP even when model.encoder is resnet18
      if (!pretrained_modalities.empty())
        fail("model.pretrained_modalities: modality '{}' has no resnet18 encoder (shape [{}])", spec.name,
             fmt::join(spec.shape, ","));
      continue;
    }
    load_pretrained_resnet18(*resnet, pretrained);
  }
  MultiModalNet net(specs, encoders, build_head(config, dims, num_classes));
  // MSEFM's external memory belongs to the model: it acts at evaluation too, and attacks see it.
  if (config.str("train.method") == "msefm" && config.boolean("msefm.memory"))
    net->set_embedding_filter(std::make_shared<FeatureMemoryImpl>(
        dims, config.integer("msefm.memory_size"), config.real("msefm.memory_mix"), config.real("msefm.sparsity"),
        config.integer("msefm.ista_steps")));
  return net;
}

void place_on_device(MultiModalNet& net, const Config& config, const c10::Device& device) {
  net->to(device);
  if (!device.is_cuda()) return;
  at::globalContext().setBenchmarkCuDNN(config.boolean("cudnn_benchmark"));
  if (!config.boolean("model.channels_last")) return;
  for (size_t m = 0; m < net->num_modalities(); ++m)
    if (auto* resnet = dynamic_cast<ResNet18Impl*>(&net->encoder(m))) resnet->use_channels_last();
}

std::string describe_architecture(MultiModalNet& net) {
  std::string text;
  for (size_t m = 0; m < net->num_modalities(); ++m) {
    const auto& spec = net->specs()[m];
    text += fmt::format("{}[{}]:{}->{} ", spec.name, fmt::join(spec.shape, "x"), net->encoder(m).kind(),
                        net->encoder(m).out_dim());
  }
  text += fmt::format("head:{} classes:{}", net->head().kind(), net->num_classes());
  if (auto filter = net->embedding_filter()) text += " filter:" + filter->kind();
  return text;
}

}  // namespace crmt
