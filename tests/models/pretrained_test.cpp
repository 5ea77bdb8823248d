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
#include "crmt/models/resnet.h"
#include "test_util.h"

namespace crmt {
namespace {

using Named = std::map<std::string, torch::Tensor>;

// A torchvision-like resnet18 state: every tensor of a 3-channel encoder with random values
// (num_batches_tracked too), plus the fc layer a real archive carries.
Named random_torchvision_state() {
  ResNet18Impl reference(3, 1);
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

void expect_loaded(ResNet18Impl& net, const Named& state) {
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
    ResNet18Impl net(channels, 1);
    load_pretrained_resnet18(net, path);
    expect_loaded(net, state);
  }
  // The averaged RGB filters, by hand for one output channel: (r + g + b) / 3 in every stem channel.
  ResNet18Impl flow(2, 3);
  load_pretrained_resnet18(flow, path);
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
  ResNet18Impl net(1, 1);
  load_pretrained_resnet18(net, path);
  expect_loaded(net, state);
}

TEST(Pretrained, MissingTensorIsNamedAndNothingIsCopied) {
  auto state = random_torchvision_state();
  state.erase("layer3.1.bn2.running_var");
  const auto path = temp_file("pretrained_missing", "resnet18.pt");
  save_archive(state, path);
  ResNet18Impl net(3, 1);
  const auto before = net.conv1->weight.clone();
  const auto why = test::error_of([&] { load_pretrained_resnet18(net, path); });
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
  ResNet18Impl net(3, 1);
  const auto why = test::error_of([&] { load_pretrained_resnet18(net, path); });
  EXPECT_NE(why.find("layer2.0.conv1.weight"), std::string::npos) << why;
  EXPECT_NE(why.find("[128, 64, 1, 1]"), std::string::npos) << why;
  EXPECT_NE(why.find("[128, 64, 3, 3]"), std::string::npos) << why;
}

TEST(Pretrained, TensorsOfADeeperResNetAreRefused) {
  auto state = random_torchvision_state();
  state["layer1.2.conv1.weight"] = torch::randn({64, 64, 3, 3});  // resnet34 has three blocks in layer1
  const auto path = temp_file("pretrained_extra", "resnet34.pt");
  save_archive(state, path);
  ResNet18Impl net(3, 1);
  const auto why = test::error_of([&] { load_pretrained_resnet18(net, path); });
  EXPECT_NE(why.find("layer1.2.conv1.weight"), std::string::npos) << why;
}

TEST(Pretrained, MissingFileAndNonArchiveFileAreNamed) {
  ResNet18Impl net(3, 1);
  const auto dir = test::temp_dir("pretrained_bad");
  const auto missing = (dir / "nothing_here.pt").string();
  auto why = test::error_of([&] { load_pretrained_resnet18(net, missing); });
  EXPECT_NE(why.find(missing), std::string::npos) << why;
  const auto text = (dir / "notes.pt").string();
  std::ofstream(text) << "these are not weights\n";
  why = test::error_of([&] { load_pretrained_resnet18(net, text); });
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
  for (size_t m = 0; m < 2; ++m) expect_loaded(dynamic_cast<ResNet18Impl&>(all->encoder(m)), state);

  auto only_visual = build_model(Config::load("", {"model.encoder=resnet18", "model.pretrained=" + path,
                                                   "model.pretrained_modalities=[visual]"}),
                                 specs, 3);
  expect_loaded(dynamic_cast<ResNet18Impl&>(only_visual->encoder(1)), state);
  auto& audio = dynamic_cast<ResNet18Impl&>(only_visual->encoder(0));
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

}  // namespace
}  // namespace crmt
