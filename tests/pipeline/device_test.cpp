// Tests that take a device: each runs on the CPU, and on CUDA too when this LibTorch sees a GPU.
#include <gtest/gtest.h>

#include "crmt/attacks/attack_registry.h"
#include "crmt/certify/certificate.h"
#include "crmt/certify/lipschitz.h"
#include "crmt/core/device.h"
#include "crmt/core/precision.h"
#include "crmt/eval/evaluator.h"
#include "crmt/pipeline/experiment.h"
#include "crmt/report/tsne.h"
#include "crmt/train/method_registry.h"
#include "test_util.h"

namespace crmt {
namespace {

std::vector<std::string> devices() {
  std::vector<std::string> out{"cpu"};
  if (cuda_available()) out.push_back("cuda");
  return out;
}

class OnDevice : public ::testing::TestWithParam<std::string> {
 protected:
  c10::Device device() const { return resolve_device(GetParam()); }
  Config config(const std::string& name, int epochs = 2) const {
    auto c = test::synthetic_config(test::temp_dir("device_" + GetParam() + "_" + name), 2, epochs);
    c.set("device", GetParam());
    return c;
  }
};

double accuracy_of(Experiment& e, const std::string& attack, double eps) {
  const EvalCase c{AttackSpec{attack, eps, 4}, "all"};
  return evaluate(e.net, e.data.test, c, 200, false).accuracy;
}

TEST_P(OnDevice, EveryMethodTrainsThereWithItsOwnTensors) {
  for (const auto& name : known_methods()) {
    SCOPED_TRACE(name);
    auto cfg = config("method_" + name, 1);
    cfg.set("train.method", name);
    if (name.rfind("crmt", 0) == 0 || name == "ojt") cfg.set("model.head", "orthogonal"), cfg.set("crmt.step2_epochs", "1");
    cfg.set("ogm_ge.modulate", "weights");
    cfg.set("msefm.memory", "true");
    cfg.set("ume_mma.unimodal_epochs", "0");
    Experiment e;
    ASSERT_NO_THROW(e = train_experiment(cfg, false));
    for (auto& p : e.net->parameters()) ASSERT_EQ(p.device(), device());
    EXPECT_GT(accuracy_of(e, "none", 0), 0.3);
  }
}

TEST_P(OnDevice, CheckpointEvaluatesOnTheCpuToTheSameAccuracy) {
  auto e = train_experiment(config("checkpoint", 3), false);
  const double clean = accuracy_of(e, "none", 0), pgd = accuracy_of(e, "pgd", 0.5);
  auto on_cpu = load_experiment(e.training.best_checkpoint, {"device=cpu"});
  for (auto& p : on_cpu.net->parameters()) ASSERT_TRUE(p.is_cpu());
  EXPECT_NEAR(accuracy_of(on_cpu, "none", 0), clean, 0.001);
  EXPECT_NEAR(accuracy_of(on_cpu, "pgd", 0.5), pgd, 0.001);
  // And back: a CPU checkpoint loads onto this device.
  auto back = load_experiment(e.training.best_checkpoint, {"device=" + GetParam()});
  EXPECT_NEAR(accuracy_of(back, "none", 0), clean, 0.001);
}

TEST_P(OnDevice, ResumeCarriesTheOptimizerStateOntoTheDevice) {
  auto cfg = config("resume", 1);
  cfg.set("train.method", "crmt_jt");
  cfg.set("model.head", "orthogonal");
  cfg.set("crmt.step2_epochs", "1");
  train_experiment(cfg, false);
  cfg.set("train.epochs", "2");
  Experiment resumed;
  ASSERT_NO_THROW(resumed = train_experiment(cfg, /*resume=*/true));
  EXPECT_EQ(resumed.training.epochs, 2);
}

TEST_P(OnDevice, AttacksLipschitzAndCertificatesComputeInFp32InsideAMixedPrecisionStep) {
  auto e = train_experiment(config("fp32", 1), false);
  auto batch = e.data.test.batch(torch::arange(64, torch::kLong));
  const auto pgd = build_attack(AttackSpec{"pgd", 0.5, 4});
  auto plain = pgd->perturb(e.net, batch, {0, 1});
  auto lipschitz = empirical_lipschitz(e.net, e.data.train, 64);
  auto cert = certify(e.net, e.data.test, lipschitz, {0.1});
  const auto precision = device().is_cuda() ? Precision::FP16 : Precision::BF16;
  AutocastScope mixed(device(), precision);
  auto inside = pgd->perturb(e.net, batch, {0, 1});
  for (size_t m = 0; m < 2; ++m) {
    EXPECT_EQ(inside.inputs[m].scalar_type(), torch::kFloat);
    EXPECT_TRUE(torch::equal(inside.inputs[m], plain.inputs[m])) << "modality " << m;
  }
  auto lipschitz_inside = empirical_lipschitz(e.net, e.data.train, 64);
  EXPECT_TRUE(torch::equal(lipschitz_inside.tau, lipschitz.tau));
  auto cert_inside = certify(e.net, e.data.test, lipschitz, {0.1});
  ASSERT_EQ(cert_inside.samples.size(), cert.samples.size());
  for (size_t i = 0; i < cert.samples.size(); ++i) ASSERT_EQ(cert_inside.samples[i].radius, cert.samples[i].radius);
}

TEST_P(OnDevice, MixedPrecisionTrainsToTheAccuracyOfFp32) {
  auto fp32 = train_experiment(config("fp32_run", 3), false);
  auto cfg = config("mixed_run", 3);
  cfg.set("train.precision", device().is_cuda() ? "fp16" : "bf16");
  auto mixed = train_experiment(cfg, false);
  for (auto& p : mixed.net->parameters()) ASSERT_EQ(p.scalar_type(), torch::kFloat) << "weights stay fp32";
  EXPECT_NEAR(accuracy_of(mixed, "none", 0), accuracy_of(fp32, "none", 0), 0.03);
}

TEST_P(OnDevice, TsneOfDeviceEmbeddingsStartsWhereTheCpuDoesAndFitsAsWell) {
  auto x = torch::randn({40, 6}, torch::kDouble);
  TsneOptions o;
  o.iterations = 0;  // the seeded start is drawn on the host: the same on every device
  auto start = tsne(x.to(device()), o);
  ASSERT_TRUE(start.embedding.is_cpu());
  EXPECT_TRUE(torch::equal(start.embedding, tsne(x, o).embedding));
  // The descent itself amplifies the last bits in which a GPU's sums differ from the CPU's (seen
  // on an H200: maps 1e-3 apart after 50 iterations), so the maps are compared by their fit.
  o.iterations = 200;
  const double here = tsne(x.to(device()), o).kl, cpu = tsne(x, o).kl;
  EXPECT_NEAR(here, cpu, 0.15 * cpu);  // another local optimum, not another objective
}

INSTANTIATE_TEST_SUITE_P(Devices, OnDevice, ::testing::ValuesIn(devices()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace crmt
