// The settings that make crmt's CRMT behave like the official code (configs/crmt_jt_official.yaml)
// and the batch-norm re-estimation any method can run (docs/fidelity.md).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "crmt/certify/lipschitz.h"
#include "crmt/methods/crmt.h"
#include "crmt/methods/official_lipschitz.h"
#include "crmt/models/model_factory.h"
#include "crmt/models/orthogonal_head.h"
#include "crmt/train/batch_norm_recalibration.h"
#include "crmt/train/checkpoint.h"
#include "crmt/train/method_registry.h"
#include "crmt/train/trainer.h"
#include "test_util.h"

namespace crmt {
namespace {

namespace fs = std::filesystem;

// Hand-made images under the embedded set's modality names.
MultiModalDataset audio_visual(int64_t n, uint64_t seed) {
  auto d = test::image_data(n, 4, seed, 0.8);
  auto specs = d.specs;
  specs[0].name = "audio";
  specs[1].name = "visual";
  auto all = d.all();
  return MultiModalDataset::in_memory(specs, all.inputs, all.labels, d.class_names, "audio-visual images");
}

Config cnn_config(const fs::path& dir, const std::string& method, std::vector<std::string> overrides = {}) {
  std::vector<std::string> all{"model.encoder=small_cnn", "model.embed_dim=8", "model.head=orthogonal",
                               "train.method=" + method, "train.epochs=3", "train.batch_size=16",
                               "train.lr=0.05", "output.progress=false", "output.dir=" + dir.string()};
  all.insert(all.end(), overrides.begin(), overrides.end());
  return Config::load("", all);
}

std::vector<nlohmann::json> log_of(const fs::path& dir) {
  std::vector<nlohmann::json> out;
  std::ifstream log(dir / "log.jsonl");
  for (std::string line; std::getline(log, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

TEST(OfficialLipschitz, ZeroesTheAudioRowAndSumsTheOtherGradientsOverClasses) {
  auto data = audio_visual(24, 3);
  torch::manual_seed(1);
  auto net = build_model(cnn_config(test::temp_dir("official_lip"), "crmt_jt"), data.specs, data.num_classes());
  auto& head = dynamic_cast<OrthogonalHeadImpl&>(net->head());
  {
    torch::NoGradGuard no_grad;  // distinct class weights, so that a(m) visibly enters the table
    for (size_t m = 0; m < 2; ++m) head.class_weights(m).copy_(torch::rand({4}) + 0.5);
  }
  net->eval();
  auto table = official_lipschitz_table(net, data);
  ASSERT_EQ(table.sizes(), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(table[0].abs().sum().item<double>(), 0.0) << "the official code reads audio.grad after zeroing it";

  // Independently: the fused score h_t carries a_t(visual) s_t(visual), so the summed gradient over
  // classes 0..t has squared norm sum_{k,l <= t} a_k a_l G_kl with G the Gram matrix of the
  // uni-modal Jacobian.
  auto a = head.class_weights(1).detach().to(torch::kDouble);
  auto x = net->align(data.all())[1];
  auto G = unimodal_jacobian_gram(net, 1, x);  // [N, K, K]
  for (int64_t t = 0; t < 4; ++t) {
    auto at = a.slice(0, 0, t + 1);
    auto Gt = G.slice(1, 0, t + 1).slice(2, 0, t + 1);
    auto norm_sq = (Gt * at.unsqueeze(0).unsqueeze(2) * at.unsqueeze(0).unsqueeze(1)).sum({1, 2});
    const double expected = norm_sq.clamp_min(0).sqrt().max().item<double>();
    EXPECT_NEAR(table[1][t].item<double>(), expected, 1e-4 * expected) << "class " << t;
  }
  // Class 0 has nothing to accumulate: a_0(visual) times the paper's uni-modal constant.
  auto tau = empirical_lipschitz(net, data).tau;
  EXPECT_NEAR(table[1][0].item<double>(), a[0].item<double>() * tau[1][0].item<double>(), 1e-4);
}

TEST(OfficialLipschitz, WithoutAnAudioModalityTheLastRowIsZeroed) {
  auto data = test::image_data(16, 4, 2);
  torch::manual_seed(2);
  auto net = build_model(cnn_config(test::temp_dir("official_lip2"), "crmt_jt"), data.specs, data.num_classes());
  auto table = official_lipschitz_table(net, data);
  EXPECT_GT(table[0].min().item<double>(), 0.0);
  EXPECT_EQ(table[1].abs().sum().item<double>(), 0.0);
}

TEST(BatchNormRecalibration, MovesOnlyRunningStatisticsAndLeavesEvalMode) {
  auto data = audio_visual(64, 4);
  torch::manual_seed(3);
  auto net = build_model(cnn_config(test::temp_dir("bn"), "jt", {"model.head=concat"}), data.specs, data.num_classes());
  std::vector<at::Tensor> params, buffers;
  for (auto& p : net->parameters()) params.push_back(p.clone());
  for (auto& b : net->buffers()) buffers.push_back(b.clone());
  EXPECT_EQ(recalibrate_batch_norm(net, data, 0, 16, 0, "bn", false), count_batch_norm_layers(net));
  for (size_t i = 0; i < buffers.size(); ++i) EXPECT_TRUE(torch::equal(net->buffers()[i], buffers[i])) << "0 passes";

  const auto layers = recalibrate_batch_norm(net, data, 2, 16, 0, "bn", false);
  EXPECT_GT(layers, 0);
  EXPECT_FALSE(net->is_training());
  for (size_t i = 0; i < params.size(); ++i) EXPECT_TRUE(torch::equal(net->parameters()[i], params[i]));
  bool moved = false;
  for (size_t i = 0; i < buffers.size(); ++i) moved |= !torch::equal(net->buffers()[i], buffers[i]);
  EXPECT_TRUE(moved) << "the running statistics must be re-estimated";

  auto mlp = build_model(Config::load("", {"model.encoder=mlp"}), data.specs, data.num_classes());
  EXPECT_EQ(recalibrate_batch_norm(mlp, data, 2, 16, 0, "bn", false), 0) << "nothing to re-estimate";
  EXPECT_NE(test::error_of([&] { recalibrate_batch_norm(net, data, -1, 16, 0, "bn", false); }).find("bn_recalibrate_epochs"),
            std::string::npos);
}

TEST(FinalStages, BatchNormReestimationRunsForAnyMethodAndChangesOnlyStatistics) {
  auto data = audio_visual(96, 5);
  DataSplits splits{data, audio_visual(32, 6), audio_visual(32, 7)};
  auto dir = test::temp_dir("final_bn");
  auto cfg = cnn_config(dir, "jt", {"model.head=concat", "train.bn_recalibrate_epochs=1"});
  torch::manual_seed(0);
  auto net = build_model(cfg, data.specs, data.num_classes());
  auto method = build_method(cfg);
  Trainer(cfg, dir.string(), describe_architecture(net)).fit(net, *method, splits, false);
  auto records = log_of(dir);
  ASSERT_GE(records.size(), 2u);
  EXPECT_EQ(records[records.size() - 2]["stage"], "bn_recalibrate");
  EXPECT_EQ(records.back()["stage"], "finish");
  auto info = read_checkpoint_info((dir / "best.pt").string());
  EXPECT_TRUE(info.finished);
  EXPECT_DOUBLE_EQ(info.best_val_accuracy, records.back()["val_accuracy"].get<double>());
}

TEST(FinalStages, OfficialStep2StartsFromTheLastEpochAndCompetesOnValidation) {
  auto data = audio_visual(96, 8);
  DataSplits splits{data, audio_visual(32, 9), audio_visual(32, 10)};
  auto dir = test::temp_dir("official_step2");
  auto cfg = cnn_config(dir, "crmt_jt",
                        {"crmt.step2_epochs=3", "crmt.step2_from=last", "crmt.step2_keep=best_validation",
                         "crmt.step2_batch_norm=train", "crmt.lipschitz_estimator=official", "crmt.lipschitz_samples=0",
                         "crmt.step2_lr_scale=3"});
  torch::manual_seed(0);
  auto net = build_model(cfg, data.specs, data.num_classes());
  auto method = build_method(cfg);
  Trainer(cfg, dir.string(), describe_architecture(net)).fit(net, *method, splits, false);
  // Every validation accuracy of the run, main epochs and step-2 epochs alike: best.pt holds the highest.
  double best = -1;
  int step2_epochs = 0;
  for (const auto& r : log_of(dir)) {
    if (r["stage"] == "lipschitz") {
      EXPECT_EQ(r["estimator"], "official");
    }
    if (!r.contains("val_accuracy") || r["stage"] == "finish") continue;
    best = std::max(best, r["val_accuracy"].get<double>());
    step2_epochs += r["stage"].get<std::string>().rfind("step 2", 0) == 0;
  }
  EXPECT_EQ(step2_epochs, 3);
  auto info = read_checkpoint_info((dir / "best.pt").string());
  EXPECT_TRUE(info.finished);
  EXPECT_DOUBLE_EQ(info.best_val_accuracy, best);

  // With step2_keep: final the result is step 2's from the last epoch: its encoders are last.pt's.
  auto final_dir = test::temp_dir("official_step2_final");
  cfg.set("crmt.step2_keep", "final");
  cfg.set("crmt.step2_batch_norm", "frozen");
  cfg.set("output.dir", final_dir.string());
  torch::manual_seed(0);
  auto net2 = build_model(cfg, data.specs, data.num_classes());
  method = build_method(cfg);
  Trainer(cfg, final_dir.string(), describe_architecture(net2)).fit(net2, *method, splits, false);
  auto best_net = build_model(cfg, data.specs, data.num_classes());
  auto last_net = build_model(cfg, data.specs, data.num_classes());
  load_checkpoint((final_dir / "best.pt").string(), describe_architecture(best_net), best_net);
  load_checkpoint((final_dir / "last.pt").string(), describe_architecture(last_net), last_net);
  for (size_t p = 0; p < best_net->encoder_parameters(0).size(); ++p)
    EXPECT_TRUE(torch::equal(best_net->encoder_parameters(0)[p], last_net->encoder_parameters(0)[p]));
}

TEST(FinalStages, OfficialEpochRuleRunsNoStep2BelowSixEpochs) {
  auto settings = [](const std::string& rule) {
    auto cfg = cnn_config(test::temp_dir("rule"), "crmt_jt", {"crmt.step2_epochs_rule=" + rule, "crmt.step2_epochs=4"});
    return Crmt(CrmtSettings::from_config(cfg));
  };
  auto official = settings("official");
  EXPECT_EQ(official.final_step2_epochs(4), 0);
  EXPECT_EQ(official.final_step2_epochs(10), 2);
  EXPECT_EQ(official.final_step2_epochs(140), 45);
  EXPECT_EQ(settings("fixed").final_step2_epochs(140), 4);
}

TEST(FinalStages, AnUnknownChoiceNamesTheKeyAndItsValues) {
  for (const std::string key : {"crmt.step2_batch_norm", "crmt.lipschitz_estimator", "crmt.step2_from",
                                "crmt.step2_keep", "crmt.step2_epochs_rule"}) {
    auto cfg = cnn_config(test::temp_dir("choice"), "crmt_jt", {key + "=sometimes"});
    auto msg = test::error_of([&] { (void)CrmtSettings::from_config(cfg); });
    EXPECT_NE(msg.find(key), std::string::npos) << msg;
    EXPECT_NE(msg.find("'sometimes'"), std::string::npos) << msg;
  }
  auto cfg = cnn_config(test::temp_dir("choice"), "crmt_jt", {"crmt.step2_keep=best_validation"});
  EXPECT_NE(test::error_of([&] { (void)CrmtSettings::from_config(cfg); }).find("crmt.step2_from: last"), std::string::npos);
}

}  // namespace
}  // namespace crmt
