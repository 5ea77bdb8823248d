#include "crmt/models/model_factory.h"

#include <algorithm>
#include <array>
#include <map>

#include "crmt/core/error.h"
#include "crmt/models/concat_head.h"
#include "crmt/models/feature_memory.h"
#include "crmt/models/head_factory.h"
#include "crmt/models/mlp.h"
#include "crmt/models/mmtm/mmtm_net.h"
#include "crmt/models/pretrained.h"
#include "crmt/models/resnet.h"
#include "crmt/models/small_cnn.h"
#include "crmt/models/transformer/multimodal_transformer.h"
#include "crmt/models/transformer/pretrained_vit.h"
#include "crmt/models/transformer/vision_transformer.h"

namespace crmt {

namespace {

const std::vector<std::string> kEncoderKinds = {"small_cnn", "resnet18", "resnet34", "transformer", "mlp", "linear"};

std::string modality_names(const ModalitySpecs& specs) {
  std::vector<std::string> names;
  for (const auto& spec : specs) names.push_back(spec.name);
  return fmt::format("{}", fmt::join(names, ", "));
}

// model.encoder, or this modality's exception in model.encoders ("modality=kind").
std::string encoder_kind(const Config& config, const ModalitySpec& spec) {
  auto kind = config.str("model.encoder");
  std::string key = "model.encoder";
  for (const auto& entry : config.strings("model.encoders")) {
    const auto eq = entry.find('=');
    if (eq == std::string::npos)
      fail("model.encoders: '{}' is not modality=kind (e.g. audio=transformer)", entry);
    if (entry.substr(0, eq) == spec.name) kind = entry.substr(eq + 1), key = "model.encoders";
  }
  if (std::find(kEncoderKinds.begin(), kEncoderKinds.end(), kind) == kEncoderKinds.end())
    fail("{} must be one of {}, got '{}' (for modality '{}')", key, fmt::join(kEncoderKinds, ", "), kind, spec.name);
  return kind;
}

// Fails unless `name`, read from config key `key`, is a modality of the data.
void require_modality(const ModalitySpecs& specs, const std::string& name, const std::string& key) {
  for (const auto& spec : specs)
    if (spec.name == name) return;
  fail("{}: '{}' is not a modality of the data (it has {})", key, name, modality_names(specs));
}

// Each modality's encoder kind, in the order of `specs`; every model.encoders entry must name one.
std::vector<std::string> encoder_kinds(const Config& config, const ModalitySpecs& specs) {
  for (const auto& entry : config.strings("model.encoders"))
    require_modality(specs, entry.substr(0, entry.find('=')), "model.encoders");
  std::vector<std::string> kinds;
  for (const auto& spec : specs) kinds.push_back(encoder_kind(config, spec));
  return kinds;
}

TransformerOptions transformer_options(const Config& config) {
  TransformerOptions o;
  o.dim = config.integer("model.transformer.dim");
  o.depth = config.integer("model.transformer.depth");
  o.heads = config.integer("model.transformer.heads");
  o.mlp_ratio = config.real("model.transformer.mlp_ratio");
  o.patch = config.integer("model.transformer.patch");
  o.pool = config.str("model.transformer.pool");
  check(o);
  return o;
}

// [C, H, W] or [T, C, H, W] as (frames, channels, height, width); others are an error naming `what`.
std::array<int64_t, 4> image_shape(const ModalitySpec& spec, const std::string& what) {
  const auto& shape = spec.shape;
  if (shape.size() == 3) return {1, shape[0], shape[1], shape[2]};
  if (shape.size() == 4) return {shape[0], shape[1], shape[2], shape[3]};
  fail("modality '{}' has shape [{}]: {} needs [C, H, W] or [T, C, H, W]", spec.name, fmt::join(shape, ","), what);
}

std::shared_ptr<EncoderImpl> build_encoder(const Config& config, const ModalitySpec& spec, const std::string& kind) {
  const auto embed_dim = config.integer("model.embed_dim");
  if (kind == "linear") return std::make_shared<MlpImpl>(spec.numel(), std::vector<int64_t>{}, embed_dim);
  if (kind == "mlp" || spec.shape.size() == 1)
    return std::make_shared<MlpImpl>(spec.numel(), std::vector<int64_t>{config.integer("model.hidden_dim")}, embed_dim);
  const auto [frames, channels, height, width] = image_shape(spec, "encoder " + kind);
  if (kind == "small_cnn") {
    if (spec.shape.size() == 4) fail("model.encoder small_cnn takes single images; modality '{}' has frames", spec.name);
    return std::make_shared<SmallCnnImpl>(channels, embed_dim);
  }
  if (kind == "resnet18" || kind == "resnet34")
    return std::make_shared<ResNetImpl>(channels, frames, kind == "resnet18" ? 18 : 34,
                                        config.integer("model.resnet_width"));
  return std::make_shared<VisionTransformerImpl>(channels, frames, height, width, transformer_options(config));
}

std::shared_ptr<JointEncoderImpl> build_joint_encoder(const Config& config, const ModalitySpecs& specs,
                                                     const std::vector<std::string>& kinds) {
  const auto fusion = config.str("model.fusion");
  std::vector<std::string> names;
  for (const auto& spec : specs) names.push_back(spec.name);
  if (fusion == "mmtm") {
    std::vector<std::shared_ptr<ResNetImpl>> streams;
    for (size_t m = 0; m < specs.size(); ++m) {
      (void)image_shape(specs[m], "model.fusion mmtm");
      if (kinds[m] != "resnet18" && kinds[m] != "resnet34")
        fail("model.fusion mmtm fuses ResNet streams; modality '{}' has encoder '{}' (set model.encoder to "
             "resnet18 or resnet34)",
             specs[m].name, kinds[m]);
      streams.push_back(std::dynamic_pointer_cast<ResNetImpl>(build_encoder(config, specs[m], kinds[m])));
    }
    std::vector<int> stages;
    for (double s : config.reals("model.mmtm_stages")) {
      if (s != static_cast<int>(s)) fail("model.mmtm_stages: stages are whole numbers 1..4, got {}", s);
      stages.push_back(static_cast<int>(s));
    }
    return std::make_shared<MmtmNetImpl>(names, streams, stages, config.integer("model.mmtm_ratio"));
  }
  std::vector<std::vector<int64_t>> shapes;
  for (const auto& spec : specs) {
    (void)image_shape(spec, "model.fusion transformer");
    shapes.push_back(spec.shape);
  }
  return std::make_shared<MultiModalTransformerImpl>(shapes, names, transformer_options(config));
}

// The transformer's patch grid on one frame of this modality.
std::pair<int64_t, int64_t> patch_grid(const Config& config, const ModalitySpec& spec) {
  const auto shape = image_shape(spec, "a transformer");  // (frames, channels, height, width)
  const auto patch = config.integer("model.transformer.patch");
  return {shape[2] / patch, shape[3] / patch};
}

bool selected(const std::vector<std::string>& modalities, const std::string& name) {
  return modalities.empty() || std::find(modalities.begin(), modalities.end(), name) != modalities.end();
}

// model.pretrained into the encoders of model.pretrained_modalities ([] = all that can take it).
void load_pretrained_weights(MultiModalNet& net, const Config& config) {
  const auto path = config.str("model.pretrained");
  const auto chosen = config.strings("model.pretrained_modalities");
  const auto& specs = net->specs();
  if (auto* joint = net->joint_encoder()) {
    if (auto* mmtm = dynamic_cast<MmtmNetImpl*>(joint)) {
      for (size_t m = 0; m < specs.size(); ++m)
        if (selected(chosen, specs[m].name)) load_pretrained_resnet(mmtm->stream(m), path);
    } else {
      std::map<std::string, std::pair<int64_t, int64_t>> grids;
      for (const auto& spec : specs)
        if (selected(chosen, spec.name)) grids[spec.name] = patch_grid(config, spec);
      load_pretrained_vit_into_joint(*joint, grids, path);
    }
    return;
  }
  for (size_t m = 0; m < specs.size(); ++m) {
    if (!selected(chosen, specs[m].name)) continue;
    auto& encoder = net->encoder(m);
    if (auto* resnet = dynamic_cast<ResNetImpl*>(&encoder)) {
      load_pretrained_resnet(*resnet, path);
    } else if (auto* vit = dynamic_cast<VisionTransformerImpl*>(&encoder)) {
      const auto [grid_h, grid_w] = patch_grid(config, specs[m]);
      load_pretrained_vit(*vit, grid_h, grid_w, path);
    } else if (!chosen.empty()) {
      fail("model.pretrained_modalities: modality '{}' has a {} encoder, which takes no pretrained weights "
           "(resnet18, resnet34 and transformer do)",
           specs[m].name, encoder.kind());
    }
  }
}

}  // namespace

MultiModalNet build_model(const Config& config, const ModalitySpecs& specs, int64_t num_classes, bool load_pretrained) {
  if (specs.empty()) fail("cannot build a model for data without modalities");
  if (num_classes < 2) fail("a classifier needs at least 2 classes, got {}", num_classes);
  const auto kinds = encoder_kinds(config, specs);
  const auto fusion = config.str("model.fusion");
  if (fusion != "late" && fusion != "mmtm" && fusion != "transformer")
    fail("model.fusion must be late, mmtm or transformer, got '{}'", fusion);
  const auto pretrained = config.str("model.pretrained");
  const auto pretrained_modalities = config.strings("model.pretrained_modalities");
  if (pretrained.empty() && !pretrained_modalities.empty())
    fail("model.pretrained_modalities is set but model.pretrained is empty");
  if (!pretrained.empty() && fusion == "late") {
    bool any = false;
    for (const auto& kind : kinds) any = any || kind == "resnet18" || kind == "resnet34" || kind == "transformer";
    if (!any)
      fail("model.pretrained is set but model.encoder is '{}' (pretrained weights are for resnet18, resnet34 and "
           "transformer)",
           config.str("model.encoder"));
  }
  for (const auto& name : pretrained_modalities) require_modality(specs, name, "model.pretrained_modalities");
  // Transformer sizes are checked whenever a transformer is asked for, even one that a 1-d modality
  // replaces with an MLP.
  const bool transformer =
      fusion == "transformer" || std::find(kinds.begin(), kinds.end(), "transformer") != kinds.end();
  if (transformer) (void)transformer_options(config);
  MultiModalNet net{nullptr};
  std::vector<int64_t> dims;
  if (fusion == "late") {
    std::vector<std::shared_ptr<EncoderImpl>> encoders;
    for (size_t m = 0; m < specs.size(); ++m) {
      encoders.push_back(build_encoder(config, specs[m], kinds[m]));
      dims.push_back(encoders.back()->out_dim());
    }
    net = MultiModalNet(specs, encoders, build_head(config, dims, num_classes));
  } else {
    auto joint = build_joint_encoder(config, specs, kinds);
    dims = joint->out_dims();
    net = MultiModalNet(specs, joint, build_head(config, dims, num_classes));
  }
  if (load_pretrained && !pretrained.empty()) load_pretrained_weights(net, config);
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
  if (auto* mmtm = dynamic_cast<MmtmNetImpl*>(net->joint_encoder())) {
    for (size_t m = 0; m < net->num_modalities(); ++m) mmtm->stream(m).use_channels_last();
    return;
  }
  if (!net->late_fusion()) return;
  for (size_t m = 0; m < net->num_modalities(); ++m)
    if (auto* resnet = dynamic_cast<ResNetImpl*>(&net->encoder(m))) resnet->use_channels_last();
}

std::string describe_architecture(MultiModalNet& net) {
  std::string text;
  if (auto* joint = net->joint_encoder()) text += "joint:" + joint->kind() + " ";
  for (size_t m = 0; m < net->num_modalities(); ++m) {
    const auto& spec = net->specs()[m];
    std::string kind = net->late_fusion() ? net->encoder(m).kind() : "joint";
    if (auto* mmtm = dynamic_cast<MmtmNetImpl*>(net->joint_encoder())) kind = mmtm->stream(m).kind();
    text += fmt::format("{}[{}]:{}->{} ", spec.name, fmt::join(spec.shape, "x"), kind, net->embedding_dim(m));
  }
  text += fmt::format("head:{} classes:{}", net->head().kind(), net->num_classes());
  if (auto filter = net->embedding_filter()) text += " filter:" + filter->kind();
  return text;
}

}  // namespace crmt
