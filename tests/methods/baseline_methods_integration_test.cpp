// Every registered method builds from its name and trains one epoch on synthetic data.
#include <gtest/gtest.h>

#include "crmt/core/error.h"
#include "crmt/models/resnet.h"
#include "method_test_util.h"

namespace crmt {
namespace {

TEST(BaselineMethods, EveryKnownMethodTrainsOneEpochWithoutNan) {
  for (const auto& name : known_methods()) {
    SCOPED_TRACE(name);
    auto cfg = test::synthetic_config(test::temp_dir("all_" + name), 2, 1);
    cfg.set("train.method", name);
    const bool crmt = name.rfind("crmt", 0) == 0 || name == "ojt";
    if (crmt) cfg.set("model.head", "orthogonal"), cfg.set("crmt.step2_epochs", "1");
    cfg.set("ogm_ge.modulate", "weights");  // MLP encoders have no convolutions
    cfg.set("msefm.memory", "true");
    cfg.set("ume_mma.unimodal_epochs", "0");
    auto data = load_data(cfg, false);
    torch::manual_seed(0);
    auto net = build_model(cfg, data.train.specs, data.train.num_classes());
    auto method = build_method(cfg);
    EXPECT_EQ(method->name(), name);
    Trainer trainer(cfg, cfg.str("output.dir"), describe_architecture(net));
    TrainResult result;
    ASSERT_NO_THROW(result = trainer.fit(net, *method, data, false));
    EXPECT_GT(result.best_val_accuracy, 0.0);
    for (auto& p : net->parameters()) ASSERT_TRUE(torch::isfinite(p).all().item<bool>());
  }
}

TEST(BaselineMethods, EveryKnownMethodTrainsWithChannelsLastResNetEncoders) {
  // What crmt does on a GPU (model.channels_last): NHWC convolutions, whose input gradients have
  // strides a plain view cannot take. Checked here on the CPU, where the layout is the same.
  torch::manual_seed(0);
  ModalitySpecs specs{ModalitySpec{"frames", {2, 3, 16, 16}}, ModalitySpec{"image", {3, 16, 16}}};
  auto labels = torch::arange(16, torch::kLong).remainder(2);
  auto set = MultiModalDataset::in_memory(specs, {torch::randn({16, 2, 3, 16, 16}), torch::randn({16, 3, 16, 16})},
                                          labels, {"a", "b"}, "16 RGB samples");
  const DataSplits data{set, set, set};
  for (const auto& name : known_methods()) {
    SCOPED_TRACE(name);
    auto cfg = test::synthetic_config(test::temp_dir("nhwc_" + name), 2, 1);
    cfg.set("train.method", name);
    cfg.set("model.encoder", "resnet18");
    cfg.set("train.batch_size", "8");
    if (name.rfind("crmt", 0) == 0 || name == "ojt") cfg.set("model.head", "orthogonal"), cfg.set("crmt.step2_epochs", "1");
    cfg.set("crmt.lipschitz_samples", "4");
    cfg.set("msefm.memory", "true");
    cfg.set("msefm.memory_size", "8");
    cfg.set("ume_mma.unimodal_epochs", "0");
    auto net = build_model(cfg, specs, 2);
    for (size_t m = 0; m < net->num_modalities(); ++m) dynamic_cast<ResNetImpl&>(net->encoder(m)).use_channels_last();
    auto method = build_method(cfg);
    Trainer trainer(cfg, cfg.str("output.dir"), describe_architecture(net));
    ASSERT_NO_THROW(trainer.fit(net, *method, data, false));
    for (auto& p : net->parameters()) ASSERT_TRUE(torch::isfinite(p).all().item<bool>());
  }
}

TEST(BaselineMethods, BadSettingsNameTheKey) {
  auto cfg = test::synthetic_config(test::temp_dir("bad"), 2, 1);
  cfg.set("train.method", "ogm_ge");
  cfg.set("ogm_ge.coefficient", "other");
  try {
    build_method(cfg);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ogm_ge.coefficient"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace crmt
