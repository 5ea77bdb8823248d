#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "crmt/certify/audit.h"
#include "crmt/certify/certificate.h"
#include "crmt/certify/crown/bound_graph.h"
#include "crmt/certify/crown/crown.h"
#include "crmt/certify/crown/crown_certificate.h"
#include "crmt/certify/lipschitz.h"
#include "crmt/core/config.h"
#include "crmt/data/synthetic.h"
#include "crmt/models/mlp.h"
#include "crmt/models/model_factory.h"
#include "crmt/models/resnet.h"
#include "crmt/models/small_cnn.h"
#include "test_util.h"

namespace crmt {
namespace {

MultiModalNet untrained(const MultiModalDataset& data, const std::vector<std::string>& settings, int64_t classes) {
  torch::manual_seed(7);
  auto net = build_model(Config::load("", settings), data.specs, classes);
  net->eval();
  return net;
}

std::vector<at::Tensor> sample(const MultiModalNet& net, const MultiModalDataset& data, int64_t i) {
  auto inputs = net->align(data.batch(torch::tensor({i}, torch::kLong)));
  for (auto& x : inputs) x = x.squeeze(0);
  return inputs;
}

int64_t predicted(MultiModalNet& net, const std::vector<at::Tensor>& x) {
  std::vector<at::Tensor> batch;
  for (const auto& t : x) batch.push_back(t.unsqueeze(0));
  torch::NoGradGuard no_grad;
  return net->forward(batch).logits.argmax(1).item<int64_t>();
}

// For linear encoders nothing is relaxed: the bound is the exact distance to the nearest decision
// boundary, min_j margin_j / ||gradient of margin_j||, jointly and per modality.
TEST(Crown, LinearEncodersGiveTheExactDistanceToTheBoundary) {
  SyntheticOptions o;
  o.samples = 20;
  o.classes = 4;
  o.dims = {6, 3};
  const auto data = make_synthetic(o);
  auto net = untrained(data, {"model.encoder=linear", "model.head=concat", "model.embed_dim=5"}, 4);
  CrownCertifier certifier(net);
  const auto C0 = net->head().modality_weight(0).to(torch::kDouble), C1 = net->head().modality_weight(1).to(torch::kDouble);
  // Each encoder is one Linear layer after a Flatten: margin_j(x) is affine with gradient rows g.
  auto weight_of = [&](size_t m) {
    for (const auto& p : net->encoder(m).named_parameters())
      if (p.key().find("weight") != std::string::npos) return p.value().detach().to(torch::kDouble);
    return at::Tensor();
  };
  const auto G0 = C0.matmul(weight_of(0)), G1 = C1.matmul(weight_of(1));  // [K, d(m)]
  for (int64_t i = 0; i < 10; ++i) {
    const auto x = sample(net, data, i);
    const int64_t p = predicted(net, x);
    std::vector<at::Tensor> batch{x[0].unsqueeze(0), x[1].unsqueeze(0)};
    const auto h = net->forward(batch).logits.detach().to(torch::kDouble).squeeze(0);
    double joint = INFINITY, uni0 = INFINITY, uni1 = INFINITY;
    for (int64_t j = 0; j < 4; ++j) {
      if (j == p) continue;
      const double margin = (h[p] - h[j]).item<double>();
      const double n0 = (G0[p] - G0[j]).norm().item<double>(), n1 = (G1[p] - G1[j]).norm().item<double>();
      joint = std::min(joint, margin / std::hypot(n0, n1));
      uni0 = std::min(uni0, margin / n0);
      uni1 = std::min(uni1, margin / n1);
    }
    const auto r = certifier.radius(x, p);
    EXPECT_NEAR(r.joint, joint, 1e-5 * joint) << "sample " << i;
    EXPECT_NEAR(r.unimodal[0], uni0, 1e-5 * uni0) << "sample " << i;
    EXPECT_NEAR(r.unimodal[1], uni1, 1e-5 * uni1) << "sample " << i;
  }
}

// Two modalities of one dimension each: the joint input is a plane, and the exact radius is the
// distance to the nearest point of a dense polar grid that changes the prediction.
TEST(Crown, TinyReluNetworksAreNeverCertifiedBeyondTheExactRadius) {
  SyntheticOptions o;
  o.samples = 40;
  o.classes = 3;
  o.dims = {1, 1};
  o.separation = 1.0;
  const auto data = make_synthetic(o);
  std::vector<double> ratios;
  for (int net_seed = 0; net_seed < 3; ++net_seed) {
    auto net = untrained(data, {"model.encoder=mlp", "model.hidden_dim=6", "model.embed_dim=4", "model.head=concat"}, 3);
    torch::manual_seed(net_seed + 11);
    for (auto& p : net->parameters()) {
      torch::NoGradGuard no_grad;
      p.normal_(0, 1);
    }
    CrownCertifier certifier(net);
    torch::NoGradGuard no_grad;
    for (int64_t i = 0; i < 12; ++i) {
      const auto x = sample(net, data, i);
      const int64_t p = predicted(net, x);
      // Exact radius from a polar grid: 360 directions x radii in steps of 2e-3 up to 4.
      const int64_t D = 360, steps = 2000;
      const auto angle = torch::arange(D, torch::kDouble) * (2 * M_PI / D);
      const auto radius = (torch::arange(steps, torch::kDouble) + 1) * 2e-3;
      const auto dx = (radius.unsqueeze(1) * angle.cos().unsqueeze(0)).flatten();
      const auto dy = (radius.unsqueeze(1) * angle.sin().unsqueeze(0)).flatten();
      std::vector<at::Tensor> moved{(x[0].to(torch::kDouble) + dx.unsqueeze(1)).to(torch::kFloat),
                                    (x[1].to(torch::kDouble) + dy.unsqueeze(1)).to(torch::kFloat)};
      const auto flips = net->forward(moved).logits.argmax(1) != p;
      const auto dist = (dx.square() + dy.square()).sqrt();
      const double exact = flips.any().item<bool>() ? dist.masked_select(flips).min().item<double>() : INFINITY;
      // Along modality 0 alone.
      const auto line = torch::cat({-radius.flip(0), radius});
      std::vector<at::Tensor> along{(x[0].to(torch::kDouble) + line.unsqueeze(1)).to(torch::kFloat),
                                    x[1].unsqueeze(0).expand({line.size(0), 1}).contiguous()};
      const auto flips0 = net->forward(along).logits.argmax(1) != p;
      const double exact0 = flips0.any().item<bool>() ? line.abs().masked_select(flips0).min().item<double>() : INFINITY;

      const auto r = certifier.radius(x, p);
      EXPECT_LE(r.joint, exact + 1e-6) << "net " << net_seed << " sample " << i;
      EXPECT_LE(r.unimodal[0], exact0 + 1e-6) << "net " << net_seed << " sample " << i;
      EXPECT_GE(r.unimodal[0], r.joint - 1e-12);
      if (std::isfinite(exact)) ratios.push_back(r.joint / exact);
    }
  }
  ASSERT_GT(ratios.size(), 20u);
  std::sort(ratios.begin(), ratios.end());
  EXPECT_GT(ratios[ratios.size() / 2], 0.3) << "bounds on 2-D inputs should not be vacuous";
}

// Batch-norm statistics away from (0, 1), so that folding them in matters.
void randomize_batch_norm(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& b : module.named_buffers()) {
    if (b.key().find("running_var") != std::string::npos) b.value().uniform_(0.5, 1.5);
    if (b.key().find("running_mean") != std::string::npos) b.value().uniform_(-0.2, 0.2);
  }
}

std::shared_ptr<ResNetImpl> small_resnet(const std::vector<int64_t>& shape) {
  torch::manual_seed(5);
  const int64_t frames = shape.size() == 4 ? shape[0] : 1;
  auto net = std::make_shared<ResNetImpl>(shape[shape.size() - 3], frames, 18, 4);
  randomize_batch_norm(*net);
  net->eval();
  return net;
}

// The encoders the graph tests run on: each kind of layer, residual blocks, and a clip of frames.
std::vector<std::pair<std::shared_ptr<EncoderImpl>, std::vector<int64_t>>> bounded_encoders() {
  torch::manual_seed(3);
  auto cnn = std::make_shared<SmallCnnImpl>(2, 6);
  randomize_batch_norm(*cnn);
  cnn->eval();
  auto mlp = std::make_shared<MlpImpl>(10, std::vector<int64_t>{12, 8}, 5);
  mlp->eval();
  return {{cnn, {2, 12, 12}}, {mlp, {10}}, {small_resnet({1, 16, 16}), {1, 16, 16}},
          {small_resnet({2, 3, 12, 12}), {2, 3, 12, 12}}};
}

TEST(Crown, ResidualGraphComputesWhatTheEncoderDoes) {
  for (const std::vector<int64_t> shape : {std::vector<int64_t>{1, 16, 16}, std::vector<int64_t>{2, 3, 12, 12}}) {
    auto net = small_resnet(shape);
    const auto graph = bound_graph(*net, shape);
    const auto x = torch::randn(batch_of(3, shape), torch::kDouble);
    torch::NoGradGuard no_grad;
    const auto expected = net->forward(x.to(torch::kFloat)).to(torch::kDouble);
    const auto got = evaluate(graph, x);
    ASSERT_EQ(got.sizes(), expected.sizes());
    EXPECT_TRUE(torch::allclose(got, expected, 1e-4, 1e-5)) << (got - expected).abs().max().item<double>();
    std::vector<std::string> names;
    for (const auto& node : graph) names.push_back(node.name);
    for (const char* name : {"layer1.1.add (residual)", "layer2.0.downsample.0 (Conv2d)", "maxpool (3x3, stride 2)"})
      EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
  const auto msg = test::error_of([] { bound_graph(*small_resnet({1, 16, 16}), {3, 16, 16}); });
  EXPECT_NE(msg.find("expects 1 input channels"), std::string::npos) << msg;
}

// The exact first-layer bounds rest on the row norms of the affine map before the first
// nonlinearity: computed from squared weights (convolution and batch norm) or by backward passes
// (Flatten, Linear), they match the map's columns evaluated one by one.
TEST(Crown, FirstLayerRowNormsAreThoseOfTheAffineMap) {
  for (const auto& [encoder, shape] : bounded_encoders()) {
    CrownBounder bounder(bound_graph(*encoder, shape));
    const auto& graph = bounder.graph();
    int64_t first = 0;
    while (!graph[static_cast<size_t>(first)].nonlinear()) ++first;
    const int64_t node = graph[static_cast<size_t>(first)].inputs[0];
    int64_t n = 1;
    for (auto d : shape) n *= d;
    const auto basis = torch::eye(n, torch::kDouble).view(batch_of(n, shape));
    const auto columns = evaluate(graph, basis, node) - evaluate(graph, torch::zeros_like(basis), node);
    const auto expected = columns.flatten(1).square().sum(0).sqrt().view(graph[static_cast<size_t>(node)].out_shape);
    ASSERT_TRUE(bounder.first_row_norms().defined()) << encoder->kind();
    EXPECT_TRUE(torch::allclose(bounder.first_row_norms(), expected, 1e-10, 1e-12)) << encoder->kind();
  }
}

// Random points of the ball (and its surface) never leave the output bounds, for every kind of
// layer the relaxation handles, residual blocks and clips included.
TEST(Crown, OutputBoundsHoldEveryPointOfTheBall) {
  for (const auto& [encoder, shape] : bounded_encoders()) {
    CrownBounder bounder(bound_graph(*encoder, shape));
    torch::manual_seed(9);
    const auto x0 = torch::randn(shape, torch::kDouble);
    const double r = 0.3;
    bounder.relax(x0, r);
    const auto [lo, hi] = bounder.output_bounds();
    EXPECT_TRUE((lo <= hi).all().item<bool>());
    torch::NoGradGuard no_grad;
    auto dirs = torch::randn(batch_of(400, shape), torch::kDouble);
    std::vector<int64_t> per_sample(shape.size() + 1, 1);
    per_sample[0] = -1;
    dirs = dirs / dirs.flatten(1).norm(2, {1}).view(per_sample);
    const auto scale = torch::cat({torch::ones({200}, torch::kDouble), torch::rand({200}, torch::kDouble)}).view(per_sample);
    const auto points = (x0.unsqueeze(0) + r * scale * dirs).to(torch::kFloat);
    const auto y = encoder->forward(points).to(torch::kDouble);
    EXPECT_TRUE((y >= lo.unsqueeze(0) - 1e-5).all().item<bool>()) << encoder->kind();
    EXPECT_TRUE((y <= hi.unsqueeze(0) + 1e-5).all().item<bool>()) << encoder->kind();
    EXPECT_GT(bounder.refined_neurons(), 0) << encoder->kind() << ": some ReLU was unstable and refined by CROWN";
  }
}

// On trained models: a strong PGD audit inside every radius flips nothing, and the radius is never
// below the guaranteed-Lipschitz one (each class pair takes the better of the two sound bounds).
// On an MLP CROWN is much tighter than the Lipschitz product; on the small CNN (max pooling) it is
// not, and the Lipschitz bound carries the radius (docs/certify.md).
void expect_radii_survive_the_audit(MultiModalNet& net, const MultiModalDataset& test, bool crown_tighter) {
  const auto lipschitz = certify(net, test, guaranteed_lipschitz(net));
  const auto crown = certify_crown(net, test, {0.0, 0.1});
  EXPECT_EQ(crown.bound, "crown");
  ASSERT_EQ(crown.samples.size(), lipschitz.samples.size());
  int64_t larger = 0;
  for (size_t i = 0; i < crown.samples.size(); ++i) {
    EXPECT_GE(crown.samples[i].radius, lipschitz.samples[i].radius * (1 - 1e-5)) << "sample " << i;
    for (size_t m = 0; m < crown.modalities.size(); ++m)
      EXPECT_GE(crown.samples[i].unimodal_radius[m], crown.samples[i].radius * (1 - 1e-9));
    larger += crown.samples[i].radius > 1.2 * lipschitz.samples[i].radius;
  }
  if (crown_tighter) EXPECT_GT(larger, static_cast<int64_t>(crown.samples.size() * 3 / 4));
  AuditOptions opt;
  opt.steps = 100;
  opt.restarts = 5;
  opt.gradient_check_every = 0;
  const auto audit = audit_certificate(net, test, crown, opt);
  EXPECT_GT(audit.attacked, static_cast<int64_t>(crown.samples.size() / 2));
  EXPECT_EQ(audit.violations, 0);
}

TEST(Crown, RadiiSurviveTheAuditAndAreNeverBelowTheGuaranteedLipschitzRadii) {
  {
    auto cfg = test::synthetic_config(test::temp_dir("crown_mlp"), 2, 3);
    cfg.set("data.synthetic.samples", "300");
    cfg.set("data.synthetic.test_samples", "20");
    DataSplits data;
    auto net = test::train_synthetic(cfg, &data);
    expect_radii_survive_the_audit(net, data.test, true);
  }
  {
    auto cfg = test::small_cnn_config(test::temp_dir("crown_cnn"));
    DataSplits data{test::image_data(96, 3, 1, 0.7), test::image_data(24, 3, 2, 0.7), test::image_data(12, 3, 3, 0.7)};
    auto net = test::train_on(cfg, data);
    expect_radii_survive_the_audit(net, data.test, false);
  }
}

// ResNet-18 (stem width 4) on 16 x 16 images: residual blocks bounded soundly.
TEST(Crown, RadiiOfAResNetSurviveTheAudit) {
  auto cfg = test::small_cnn_config(test::temp_dir("crown_resnet"));
  cfg.set("model.encoder", "resnet18");
  cfg.set("model.resnet_width", "4");
  DataSplits data{test::image_data(96, 3, 1, 0.7, 16), test::image_data(24, 3, 2, 0.7, 16),
                  test::image_data(12, 3, 3, 0.7, 16)};
  auto net = test::train_on(cfg, data);
  expect_radii_survive_the_audit(net, data.test, false);
}

TEST(Crown, EncodersItCannotBoundAreRefusedNamingThem) {
  SyntheticOptions o;
  o.dims = {4, 4};
  const auto data = make_synthetic(o);
  auto net = untrained(data, {"model.encoder=linear", "model.head=concat"}, 3);
  // A layer type without an entry, inside a Sequential body.
  auto& body = dynamic_cast<MlpImpl&>(net->encoder(1)).body;
  body->push_back(torch::nn::Tanh());
  const auto msg = test::error_of([&] { CrownCertifier c(net); });
  EXPECT_NE(msg.find("modality"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Tanh (layer 2)"), std::string::npos) << msg;
}

}  // namespace
}  // namespace crmt
