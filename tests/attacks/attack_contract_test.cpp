// The contract of attack.h, checked for every registered attack (torchattacks' test over
// __all__): the perturbation stays within its budget, modalities not attacked come back
// bit-identical, inputs stay within their modality's valid range, labels are untouched, and the
// model leaves in the mode it came in with its batch-norm statistics unchanged. Over every kind of
// model: late fusion with each encoder, and the joint ones (MMTM, the multi-modal transformer).
#include <gtest/gtest.h>

#include "crmt/attacks/attack_registry.h"
#include "crmt/attacks/perturbation.h"
#include "crmt/models/model_factory.h"
#include "test_util.h"

namespace crmt {
namespace {

// Model configs by name: every encoder and fusion, tiny (8x8 images).
const std::vector<std::pair<std::string, std::vector<std::string>>> kModels = {
    {"small_cnn", {"model.encoder=small_cnn", "model.embed_dim=8"}},
    {"resnet34", {"model.encoder=resnet34", "model.resnet_width=4"}},
    {"transformer", {"model.encoder=transformer", "model.encoders=[img1=small_cnn]", "model.embed_dim=8",
                     "model.transformer.dim=16", "model.transformer.depth=1", "model.transformer.heads=2",
                     "model.transformer.patch=4"}},
    {"mmtm", {"model.encoder=resnet18", "model.fusion=mmtm", "model.resnet_width=4", "model.head=orthogonal"}},
    {"multimodal_transformer",
     {"model.fusion=transformer", "model.transformer.dim=16", "model.transformer.depth=1",
      "model.transformer.heads=2", "model.transformer.patch=4"}},
};

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& [name, overrides] : kModels) names.push_back(name);
  return names;
}

class AttackContract : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {
 protected:
  void SetUp() override {
    // A bounded modality, so that range clamping is exercised.
    data_ = test::bounded_copy(test::image_data(24, 3, 11, 0.7), 0, -1.0, 1.0);
    std::vector<std::string> overrides;
    for (const auto& [name, o] : kModels)
      if (name == std::get<1>(GetParam())) overrides = o;
    auto cfg = Config::load("", overrides);
    torch::manual_seed(3);
    net_ = build_model(cfg, data_.specs, data_.num_classes());
  }
  MultiModalDataset data_;
  MultiModalNet net_{nullptr};
};

std::vector<at::Tensor> buffers_of(MultiModalNet& net) {
  std::vector<at::Tensor> out;
  for (const auto& b : net->buffers()) out.push_back(b.clone());
  return out;
}

TEST_P(AttackContract, KeepsTheContractOfAttackH) {
  const auto& info = attack_info(std::get<0>(GetParam()));
  const double strength = info.strength == "p" ? 0.3 : 0.8;
  auto attack = build_attack(AttackSpec{info.name, strength, 3, 5});
  ASSERT_NE(attack, nullptr);
  EXPECT_EQ(attack->name(), info.name);
  const auto batch = data_.all();
  for (const std::vector<size_t>& targets : {std::vector<size_t>{0, 1}, {0}, {1}}) {
    SCOPED_TRACE(::testing::PrintToString(targets));
    for (const bool training : {true, false}) {
      net_->train(training);
      const auto before = buffers_of(net_);
      const auto adv = attack->perturb(net_, batch, targets);
      EXPECT_EQ(net_->is_training(), training) << "the model's mode must be restored";
      const auto after = buffers_of(net_);
      for (size_t b = 0; b < before.size(); ++b)
        EXPECT_TRUE(torch::equal(before[b], after[b])) << "an attack must not move batch-norm statistics";
      EXPECT_TRUE(torch::equal(adv.labels, batch.labels));
      std::vector<at::Tensor> deltas;
      for (size_t m = 0; m < batch.inputs.size(); ++m) {
        ASSERT_EQ(adv.inputs[m].sizes(), batch.inputs[m].sizes());
        const bool attacked = std::find(targets.begin(), targets.end(), m) != targets.end();
        if (attacked) {
          deltas.push_back(adv.inputs[m] - batch.inputs[m]);
        } else {
          EXPECT_TRUE(torch::equal(adv.inputs[m], batch.inputs[m])) << "modality " << m << " not attacked";
        }
      }
      EXPECT_GE(adv.inputs[0].min().item<double>(), -1.0 - 1e-6) << "valid range of modality 0";
      EXPECT_LE(adv.inputs[0].max().item<double>(), 1.0 + 1e-6) << "valid range of modality 0";
      // An l2 budget bounds the joint norm; the others bound what they may do to an entry.
      if (info.strength == "eps") {
        EXPECT_LE(joint_norm(deltas).max().item<double>(), strength + 1e-5);
      }
      if (info.strength == "p" || !info.has_strength()) {
        for (size_t i = 0; i < targets.size(); ++i) {
          auto changed = adv.inputs[targets[i]].ne(batch.inputs[targets[i]]);
          EXPECT_TRUE(adv.inputs[targets[i]].masked_select(changed).eq(0).all().item<bool>()) << "only zeroed entries";
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryRegisteredAttackAndModel, AttackContract,
                         ::testing::Combine(::testing::ValuesIn(known_attacks()), ::testing::ValuesIn(model_names())),
                         [](const ::testing::TestParamInfo<std::tuple<std::string, std::string>>& p) {
                           return std::get<0>(p.param) + "_" + std::get<1>(p.param);
                         });

TEST(AttackRegistry, ListsTheAttacksOfThePaperWithTheirStrengthWords) {
  for (const auto& [name, word] : std::vector<std::pair<std::string, std::string>>{
           {"fgm", "eps"}, {"pgd", "eps"}, {"missing", ""}, {"mgn", "sigma"}, {"mpm", "p"}, {"mea", "eps"}})
    EXPECT_EQ(attack_info(name).strength, word) << name;
  EXPECT_NE(test::error_of([] { attack_info("cw"); }).find("unknown attack 'cw'"), std::string::npos);
  EXPECT_NE(test::error_of([] { build_attack(AttackSpec{"pgd", -1, 4}); }).find(">= 0"), std::string::npos);
  EXPECT_EQ(build_attack(AttackSpec{"none", 0, 0}), nullptr);
}

}  // namespace
}  // namespace crmt
