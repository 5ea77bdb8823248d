#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <fstream>
#include <map>
#include <set>
#include <string>

#include "crmt/core/config.h"
#include "crmt/core/error.h"
#include "crmt/models/model_factory.h"
#include "crmt/models/pretrained.h"
#include "crmt/models/mmtm/mmtm_net.h"
#include "crmt/models/resnet.h"
#include "crmt/models/transformer/pretrained_vit.h"
#include "test_util.h"

namespace crmt {
namespace {

using Named = std::map<std::string, torch::Tensor>;

// A torchvision-like resnet18 state: every tensor of a 3-channel encoder with random values
// (num_batches_tracked too), plus the fc layer a real archive carries.
Named random_torchvision_state() {
  ResNetImpl reference(3, 1);
  Named state;
  for (const auto& p : reference.named_parameters()) state[p.key()] = torch::randn(p.value().sizes());
  for (const auto& b : reference.named_buffers()) {
    state[b.key()] = b.key().find("num_batches_tracked") != std::string::npos
                         ? torch::randint(1, 1000, {}, torch::kLong)
                         : torch::rand(b.value().sizes()) + 0.5;
  }
  state["fc.weight"] = torch::randn({1000, 512});
  state["fc.bias"] = torch::randn({1000});
  return state;
}

// Saves `state` as a TorchScript archive with torchvision's module tree: "layer1.0.bn1.weight" is
// parameter "weight" of submodule bn1 of submodule 0 of submodule layer1 (running stats are buffers).
void save_archive(const Named& state, const std::string& path) {
  torch::jit::Module root("__torch__.torchvision.models.resnet.ResNet");
  std::map<std::string, torch::jit::Module> modules{{"", root}};
  for (const auto& [name, tensor] : state) {
    std::string prefix;
    torch::jit::Module owner = root;
    auto rest = name;
    for (auto dot = rest.find('.'); dot != std::string::npos; dot = rest.find('.')) {
      const auto part = rest.substr(0, dot);
      rest = rest.substr(dot + 1);
      const auto path_so_far = prefix.empty() ? part : prefix + "." + part;
      auto it = modules.find(path_so_far);
      if (it == modules.end()) {
        std::string class_name = "__torch__.Sub_" + path_so_far;  // one class per submodule
        for (size_t i = 10; i < class_name.size(); ++i)
          if (class_name[i] == '.') class_name[i] = '_';
        torch::jit::Module child(class_name);
        owner.register_module(part, child);
        it = modules.emplace(path_so_far, child).first;
      }
      owner = it->second;
      prefix = path_so_far;
    }
    const bool buffer = rest == "running_mean" || rest == "running_var" || rest == "num_batches_tracked";
    if (buffer)
      owner.register_buffer(rest, tensor);
    else
      owner.register_parameter(rest, tensor, /*is_buffer=*/false);
  }
  root.save(path);
}

std::string temp_file(const std::string& dir, const std::string& name) {
  return (test::temp_dir(dir) / name).string();
}

void expect_loaded(ResNetImpl& net, const Named& state) {
  for (const auto& p : net.named_parameters()) {
    auto expected = state.at(p.key());
    if (p.key() == "conv1.weight" && net.in_channels() != 3)
      expected = expected.mean(1, true).repeat({1, net.in_channels(), 1, 1});
    EXPECT_TRUE(torch::allclose(p.value(), expected, 1e-6, 1e-6)) << p.key();
  }
  for (const auto& b : net.named_buffers()) EXPECT_TRUE(torch::equal(b.value(), state.at(b.key()))) << b.key();
}

TEST(Pretrained, ArchiveWithTorchvisionNamesLoadsInto3And2And1ChannelStems) {
  const auto state = random_torchvision_state();
  const auto path = temp_file("pretrained_ok", "resnet18.pt");
  save_archive(state, path);
  for (int64_t channels : {3, 2, 1}) {
    ResNetImpl net(channels, 1);
    load_pretrained_resnet(net, path);
    expect_loaded(net, state);
  }
  // The averaged RGB filters, by hand for one output channel: (r + g + b) / 3 in every stem channel.
  ResNetImpl flow(2, 3);
  load_pretrained_resnet(flow, path);
  const auto& rgb = state.at("conv1.weight");
  auto by_hand = (rgb[5][0] + rgb[5][1] + rgb[5][2]) / 3;
  EXPECT_TRUE(torch::allclose(flow.conv1->weight[5][0], by_hand, 1e-5, 1e-6));
  EXPECT_TRUE(torch::equal(flow.conv1->weight[5][1], flow.conv1->weight[5][0]));
  // The loaded network computes (eval mode uses the loaded running statistics).
  flow.eval();
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(flow.forward(torch::randn({1, 3, 2, 32, 32})).isfinite().all().item<bool>());
}

TEST(Pretrained, StateDictSavedWithTorchSaveLoads) {
  const auto state = random_torchvision_state();
  c10::Dict<std::string, torch::Tensor> dict;
  for (const auto& [name, tensor] : state) dict.insert(name, tensor);
  const auto path = temp_file("pretrained_dict", "resnet18.pth");
  const auto bytes = torch::pickle_save(c10::IValue(dict));  // what torch.save(state_dict) writes
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ResNetImpl net(1, 1);
  load_pretrained_resnet(net, path);
  expect_loaded(net, state);
}

TEST(Pretrained, MissingTensorIsNamedAndNothingIsCopied) {
  auto state = random_torchvision_state();
  state.erase("layer3.1.bn2.running_var");
  const auto path = temp_file("pretrained_missing", "resnet18.pt");
  save_archive(state, path);
  ResNetImpl net(3, 1);
  const auto before = net.conv1->weight.clone();
  const auto why = test::error_of([&] { load_pretrained_resnet(net, path); });
  EXPECT_NE(why.find("layer3.1.bn2.running_var"), std::string::npos) << why;
  EXPECT_NE(why.find(path), std::string::npos) << why;
  EXPECT_EQ(why.find('\n'), std::string::npos) << why;
  EXPECT_TRUE(torch::equal(net.conv1->weight, before)) << "an error must leave the encoder as it was";
}

TEST(Pretrained, WrongShapeIsNamedWithBothShapes) {
  auto state = random_torchvision_state();
  state["layer2.0.conv1.weight"] = torch::randn({128, 64, 1, 1});
  const auto path = temp_file("pretrained_shape", "resnet18.pt");
  save_archive(state, path);
  ResNetImpl net(3, 1);
  const auto why = test::error_of([&] { load_pretrained_resnet(net, path); });
  EXPECT_NE(why.find("layer2.0.conv1.weight"), std::string::npos) << why;
  EXPECT_NE(why.find("[128, 64, 1, 1]"), std::string::npos) << why;
  EXPECT_NE(why.find("[128, 64, 3, 3]"), std::string::npos) << why;
}

TEST(Pretrained, TensorsOfADeeperResNetAreRefused) {
  auto state = random_torchvision_state();
  state["layer1.2.conv1.weight"] = torch::randn({64, 64, 3, 3});  // resnet34 has three blocks in layer1
  const auto path = temp_file("pretrained_extra", "resnet34.pt");
  save_archive(state, path);
  ResNetImpl net(3, 1);
  const auto why = test::error_of([&] { load_pretrained_resnet(net, path); });
  EXPECT_NE(why.find("layer1.2.conv1.weight"), std::string::npos) << why;
}

TEST(Pretrained, MissingFileAndNonArchiveFileAreNamed) {
  ResNetImpl net(3, 1);
  const auto dir = test::temp_dir("pretrained_bad");
  const auto missing = (dir / "nothing_here.pt").string();
  auto why = test::error_of([&] { load_pretrained_resnet(net, missing); });
  EXPECT_NE(why.find(missing), std::string::npos) << why;
  const auto text = (dir / "notes.pt").string();
  std::ofstream(text) << "these are not weights\n";
  why = test::error_of([&] { load_pretrained_resnet(net, text); });
  EXPECT_NE(why.find(text), std::string::npos) << why;
  EXPECT_NE(why.find("not a TorchScript archive"), std::string::npos) << why;
  EXPECT_EQ(why.find('\n'), std::string::npos) << why;
}

// model.pretrained / model.pretrained_modalities through build_model.
ModalitySpecs audio_visual_specs() {
  ModalitySpec audio{"audio", {1, 32, 16}}, visual{"visual", {2, 3, 32, 32}};
  return {audio, visual};
}

TEST(ModelPretrained, ConfigLoadsTheSelectedResNetEncoders) {
  const auto state = random_torchvision_state();
  const auto path = temp_file("model_pretrained", "resnet18.pt");
  save_archive(state, path);
  auto specs = audio_visual_specs();
  auto all = build_model(Config::load("", {"model.encoder=resnet18", "model.pretrained=" + path}), specs, 3);
  for (size_t m = 0; m < 2; ++m) expect_loaded(dynamic_cast<ResNetImpl&>(all->encoder(m)), state);

  auto only_visual = build_model(Config::load("", {"model.encoder=resnet18", "model.pretrained=" + path,
                                                   "model.pretrained_modalities=[visual]"}),
                                 specs, 3);
  expect_loaded(dynamic_cast<ResNetImpl&>(only_visual->encoder(1)), state);
  auto& audio = dynamic_cast<ResNetImpl&>(only_visual->encoder(0));
  EXPECT_FALSE(torch::allclose(audio.layer1->named_parameters()["0.conv1.weight"], state.at("layer1.0.conv1.weight")));

  // A caller that loads a checkpoint next does not read the file.
  auto skipped = build_model(Config::load("", {"model.encoder=resnet18", "model.pretrained=/no/such/file.pt"}),
                             specs, 3, /*load_pretrained=*/false);
  EXPECT_EQ(skipped->num_modalities(), 2u);
}

TEST(ModelPretrained, ConfigErrors) {
  const auto specs = audio_visual_specs();
  auto why = test::error_of([&] {
    build_model(Config::load("", {"model.encoder=small_cnn", "model.pretrained=w.pt"}), specs, 3);
  });
  EXPECT_NE(why.find("model.pretrained"), std::string::npos) << why;
  EXPECT_NE(why.find("small_cnn"), std::string::npos) << why;
  why = test::error_of([&] {
    build_model(Config::load("", {"model.encoder=resnet18", "model.pretrained=w.pt",
                                  "model.pretrained_modalities=[visual, flow]"}),
                specs, 3);
  });
  EXPECT_NE(why.find("'flow'"), std::string::npos) << why;
  EXPECT_NE(why.find("model.pretrained_modalities"), std::string::npos) << why;
  why = test::error_of([&] {
    build_model(Config::load("", {"model.encoder=resnet18", "model.pretrained=/no/such/w.pt"}), specs, 3);
  });
  EXPECT_NE(why.find("/no/such/w.pt"), std::string::npos) << why;
}

TEST(Pretrained, EveryProblemIsListedAtOnce) {
  auto state = random_torchvision_state();
  state.erase("layer3.1.bn2.running_var");
  state.erase("layer1.0.conv2.weight");
  state["layer2.0.conv1.weight"] = torch::randn({128, 64, 1, 1});
  state["layer5.0.conv1.weight"] = torch::randn({8, 8, 3, 3});
  const auto path = temp_file("pretrained_all_problems", "resnet18.pt");
  save_archive(state, path);
  ResNetImpl net(3, 1);
  const auto why = test::error_of([&] { load_pretrained_resnet(net, path); });
  for (const char* name : {"layer3.1.bn2.running_var", "layer1.0.conv2.weight", "layer2.0.conv1.weight", "layer5.0.conv1.weight"})
    EXPECT_NE(why.find(name), std::string::npos) << name << ": " << why;
  EXPECT_NE(why.find("4 problems"), std::string::npos) << why;
  EXPECT_EQ(why.find('\n'), std::string::npos) << why;
}

// Writes a module's parameters and buffers as torch.save(dict(m.state_dict())) would.
void save_state(torch::nn::Module& module, const std::string& path) {
  c10::Dict<std::string, torch::Tensor> dict;
  for (const auto& p : module.named_parameters()) dict.insert(p.key(), p.value().detach().clone());
  for (const auto& b : module.named_buffers()) dict.insert(b.key(), b.value().clone());
  const auto bytes = torch::pickle_save(c10::IValue(dict));
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

const std::vector<std::string> kTinyTransformer = {"model.transformer.dim=16", "model.transformer.depth=2",
                                                   "model.transformer.heads=2", "model.transformer.patch=8"};

std::vector<std::string> plus(std::vector<std::string> overrides, const std::vector<std::string>& more) {
  overrides.insert(overrides.end(), more.begin(), more.end());
  return overrides;
}

Config with(const std::vector<std::string>& overrides, const std::vector<std::string>& more) {
  return Config::load("", plus(overrides, more));
}

// Export one encoder's weights, load them into a differently initialised model by config: the same
// embeddings come out.
TEST(ModelPretrained, ExportedEncoderRoundTripsForResNet34AndTransformer) {
  const auto specs = audio_visual_specs();
  const std::vector<std::vector<std::string>> configs = {
      {"model.encoder=resnet34", "model.resnet_width=8"},
      plus({"model.encoder=transformer"}, kTinyTransformer),
  };
  for (const auto& overrides : configs) {
    SCOPED_TRACE(overrides[0]);
    torch::manual_seed(1);
    auto source = build_model(Config::load("", overrides), specs, 3);
    const auto path = temp_file("round_trip", "audio.pth");
    save_state(source->encoder(0), path);
    torch::manual_seed(2);
    auto loaded = build_model(with(overrides, {"model.pretrained=" + path, "model.pretrained_modalities=[audio]"}),
                              specs, 3);
    source->eval(), loaded->eval();
    torch::NoGradGuard no_grad;
    auto x = torch::randn({2, 1, 32, 16});
    EXPECT_TRUE(torch::equal(loaded->encode(0, x), source->encode(0, x)));
    auto clip = torch::randn({2, 2, 3, 32, 32});
    EXPECT_FALSE(torch::allclose(loaded->encode(1, clip), source->encode(1, clip))) << "visual was not selected";
  }
}

TEST(ModelPretrained, MmtmStreamsTakeResNetWeightsAndKeepTheirModules) {
  const auto specs = audio_visual_specs();
  const std::vector<std::string> overrides{"model.encoder=resnet18", "model.fusion=mmtm", "model.resnet_width=8"};
  torch::manual_seed(1);
  auto source = build_model(Config::load("", overrides), specs, 3);
  auto& source_mmtm = dynamic_cast<MmtmNetImpl&>(*source->joint_encoder());
  const auto path = temp_file("round_trip_mmtm", "visual.pth");
  save_state(source_mmtm.stream(1), path);
  torch::manual_seed(2);
  auto fresh = build_model(Config::load("", overrides), specs, 3);
  torch::manual_seed(2);
  auto loaded = build_model(with(overrides, {"model.pretrained=" + path, "model.pretrained_modalities=[visual]"}), specs, 3);
  auto& mmtm = dynamic_cast<MmtmNetImpl&>(*loaded->joint_encoder());
  for (const auto& p : mmtm.stream(1).named_parameters())
    EXPECT_TRUE(torch::equal(p.value(), source_mmtm.stream(1).named_parameters()[p.key()])) << p.key();
  auto fresh_params = fresh->named_parameters();
  for (const auto& p : loaded->named_parameters()) {
    if (p.key().find("stream_visual") == std::string::npos) {
      EXPECT_TRUE(torch::equal(p.value(), fresh_params[p.key()])) << p.key() << " must keep its initialisation";
    }
  }
}

TEST(ModelPretrained, JointTransformerTakesAViTsBlocksAndTokenizer) {
  const auto specs = audio_visual_specs();
  torch::manual_seed(1);
  // A "timm ViT": the late-fusion transformer encoder of the same size, on a 3-channel 32 x 32 image.
  ModalitySpecs image{ModalitySpec{"image", {3, 32, 32}}, ModalitySpec{"other", {3, 32, 32}}};
  auto vit_model = build_model(with({"model.encoder=transformer"}, kTinyTransformer), image, 3);
  const auto path = temp_file("round_trip_mmt", "vit.pth");
  save_state(vit_model->encoder(0), path);
  auto vit = vit_model->encoder(0).named_parameters();
  torch::manual_seed(2);
  auto joint = build_model(with({"model.fusion=transformer", "model.pretrained=" + path}, kTinyTransformer), specs, 3);
  int64_t blocks = 0;
  for (const auto& p : joint->joint_encoder()->named_parameters()) {
    if (p.key().rfind("blocks.", 0) == 0 || p.key().rfind("norm.", 0) == 0) {
      EXPECT_TRUE(torch::equal(p.value(), vit[p.key()])) << p.key();
      ++blocks;
    }
  }
  EXPECT_GT(blocks, 0);
  auto params = joint->joint_encoder()->named_parameters();
  // The audio stem has 1 channel: the RGB patch filters, averaged.
  EXPECT_TRUE(torch::allclose(params["tokenizers.audio.patch_embed.proj.weight"],
                              vit["patch_embed.proj.weight"].mean(1, true), 1e-6, 1e-7));
  EXPECT_TRUE(torch::equal(params["tokenizers.visual.patch_embed.proj.weight"], vit["patch_embed.proj.weight"]));
  // The visual grid is the ViT's own (4 x 4): its position embedding without the class slot.
  EXPECT_TRUE(torch::equal(params["tokenizers.visual.pos_embed"], vit["pos_embed"].narrow(1, 1, 16)));
}

TEST(PositionEmbedding, ResamplesTheGridAndKeepsOrDropsTheClassSlot) {
  auto src = torch::randn({1, 1 + 16, 8});
  EXPECT_TRUE(torch::equal(resample_position_embedding(src, 4, 4, true), src));
  EXPECT_TRUE(torch::equal(resample_position_embedding(src, 4, 4, false), src.narrow(1, 1, 16)));
  // A constant grid stays constant at any size (bicubic weights sum to one).
  auto constant = torch::full({1, 16, 8}, 0.25);
  auto wide = resample_position_embedding(constant, 3, 7, true);
  EXPECT_EQ(wide.sizes(), (std::vector<int64_t>{1, 1 + 21, 8}));
  EXPECT_TRUE(torch::allclose(wide.narrow(1, 1, 21), torch::full({1, 21, 8}, 0.25), 1e-5, 1e-6));
  EXPECT_TRUE(torch::equal(wide.narrow(1, 0, 1), torch::zeros({1, 1, 8})));
  auto odd = torch::randn({1, 7, 8});  // no square grid: left for the loader to report
  EXPECT_TRUE(torch::equal(resample_position_embedding(odd, 2, 2, false), odd));
}

}  // namespace
}  // namespace crmt
