// Every registered method builds from its name and trains one epoch on synthetic data.
#include <gtest/gtest.h>

#include "crmt/core/error.h"
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
