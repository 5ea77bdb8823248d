#include <gtest/gtest.h>
#include <variant>

#include "crmt/certify/certificate.h"
#include "crmt/certify/layer_bounds.h"
#include "crmt/certify/lipschitz.h"
#include "crmt/certify/resnet_bound.h"
#include "crmt/core/config.h"
#include "crmt/core/error.h"
#include "crmt/data/synthetic.h"
#include "crmt/models/batch_norm.h"
#include "crmt/models/mlp.h"
#include "crmt/models/model_factory.h"
#include "crmt/models/orthogonal_head.h"
#include "crmt/models/resnet.h"
#include "crmt/models/small_cnn.h"
#include "test_util.h"

namespace crmt {
namespace {

// The encoder weight U of a linear encoder phi(x) = U x + c.
torch::Tensor linear_encoder_weight(MultiModalNet& net, size_t m) {
  auto& mlp = dynamic_cast<MlpImpl&>(net->encoder(m));
  for (const auto& module : mlp.body->children())
    if (auto lin = std::dynamic_pointer_cast<torch::nn::LinearImpl>(module)) return lin->weight.detach().to(torch::kDouble);
  ADD_FAILURE() << "no Linear layer";
  return {};
}

MultiModalNet linear_model(const std::string& head, MultiModalDataset* data_out) {
  torch::manual_seed(3);
  SyntheticOptions o;
  o.samples = 40;
  o.classes = 4;
  o.dims = {7, 5};
  *data_out = make_synthetic(o);
  auto config = Config::load("", {"model.encoder=linear", "model.head=" + head, "model.embed_dim=6"});
  auto net = build_model(config, data_out->specs, 4);
  net->eval();
  return net;
}

double rel_diff(double a, double b) { return std::abs(a - b) / std::max({std::abs(a), std::abs(b), 1e-12}); }

TEST(LipschitzLinear, EmpiricalAndGuaranteedMatchClosedForm) {
  MultiModalDataset data;
  auto net = linear_model("concat", &data);
  auto emp = empirical_lipschitz(net, data, 10);
  auto guar = guaranteed_lipschitz(net);
  EXPECT_EQ(emp.kind, "empirical");
  EXPECT_EQ(emp.samples, 10);
  EXPECT_EQ(guar.kind, "guaranteed");
  ASSERT_EQ(emp.tau.sizes(), (std::vector<int64_t>{2, 4}));
  ASSERT_EQ(guar.pairwise.sizes(), (std::vector<int64_t>{2, 4, 4}));
  EXPECT_EQ(emp.tau.scalar_type(), torch::kDouble);
  for (size_t m = 0; m < 2; ++m) {
    auto U = linear_encoder_weight(net, m);
    auto W = net->head().modality_weight(m).detach().to(torch::kDouble);
    for (int64_t y = 0; y < 4; ++y) {
      const double tau = at::linalg_vector_norm(torch::matmul(W[y], U), 2).item<double>();
      EXPECT_LT(rel_diff(emp.tau_at(m, y), tau), 1e-5) << m << " " << y;
      EXPECT_LT(rel_diff(guar.tau_at(m, y), tau), 1e-5) << m << " " << y;
      for (int64_t j = 0; j < 4; ++j) {
        if (j == y) {
          EXPECT_EQ(guar.pairwise_at(m, y, j), 0.0);
          continue;
        }
        const double closed = torch::matmul(W[y] - W[j], U).norm().item<double>();
        EXPECT_LT(rel_diff(emp.pairwise_at(m, y, j), closed), 1e-5) << m << " " << y << " " << j;
        EXPECT_LT(rel_diff(guar.pairwise_at(m, y, j), closed), 1e-5) << m << " " << y << " " << j;
      }
    }
  }
}

TEST(LipschitzLinear, ScoreWeightOfOrthogonalHeadIsTheNormalizedWeight) {
  MultiModalDataset data;
  auto net = linear_model("orthogonal", &data);
  auto& head = dynamic_cast<OrthogonalHeadImpl&>(net->head());
  for (size_t m = 0; m < 2; ++m) {
    auto r = unimodal_score_weight(net, m);
    EXPECT_TRUE(torch::allclose(r, head.normalized_weight(m).detach().to(torch::kDouble), 1e-5, 1e-6));
    // Orthonormal rows: the closed form of tau_k(m) is ||W~_k U||.
    auto U = linear_encoder_weight(net, m);
    auto guar = guaranteed_lipschitz(net);
    for (int64_t k = 0; k < 4; ++k)
      EXPECT_LT(rel_diff(guar.tau_at(m, k), torch::matmul(r[k], U).norm().item<double>()), 1e-6);
  }
}

// The dense matrix of a convolution on [C, H, W] inputs, built column by column from unit vectors.
torch::Tensor dense_conv_matrix(const torch::Tensor& w, std::vector<int64_t> chw, std::vector<int64_t> stride,
                                std::vector<int64_t> padding, std::vector<int64_t> dilation, int64_t groups) {
  const int64_t n = chw[0] * chw[1] * chw[2];
  auto basis = torch::eye(n, torch::kDouble).view({n, chw[0], chw[1], chw[2]});
  auto cols = at::conv2d(basis, w.to(torch::kDouble), {}, stride, padding, dilation, groups).view({n, -1});
  return cols.t();
}

TEST(LipschitzConv, PowerIterationMatchesExplicitConvMatrix) {
  struct Case {
    int64_t cin, cout, k, groups;
    std::vector<int64_t> chw, stride, padding, dilation;
  };
  std::vector<Case> cases = {
      {2, 3, 3, 1, {2, 5, 5}, {1, 1}, {1, 1}, {1, 1}},  // SmallCnn's layer
      {3, 4, 3, 1, {3, 7, 6}, {2, 2}, {0, 0}, {1, 1}},  // strided, unpadded, odd leftover
      {4, 6, 3, 2, {4, 6, 6}, {1, 2}, {2, 1}, {2, 1}},  // groups, dilation, mixed stride
      {1, 2, 2, 1, {1, 4, 4}, {2, 2}, {0, 0}, {1, 1}},
      {5, 2, 3, 1, {5, 4, 7}, {1, 1}, {1, 1}, {1, 1}},  // more inputs than outputs, odd width
  };
  torch::manual_seed(0);
  for (const auto& c : cases) {
    auto w = torch::randn({c.cout, c.cin / c.groups, c.k, c.k}, torch::kDouble);
    auto dense = dense_conv_matrix(w, c.chw, c.stride, c.padding, c.dilation, c.groups);
    const double exact = at::linalg_svdvals(dense).max().item<double>();
    const double power = conv2d_operator_norm(w, c.chw, c.stride, c.padding, c.dilation, c.groups);
    EXPECT_LT(rel_diff(power, exact), 1e-3) << "power " << power << " exact " << exact;
    EXPECT_LE(power, exact * (1 + 1e-9));
    // Asked to stop at 90% of the norm, it stops there: reached, and not beyond the converged value.
    const double early = conv2d_operator_norm(w, c.chw, c.stride, c.padding, c.dilation, c.groups, 2000, 1e-10, 0,
                                              0.9 * exact);
    EXPECT_GE(early, 0.9 * exact);
    EXPECT_LE(early, power * (1 + 1e-12));
    const double upper = conv2d_norm_upper_bound(w, c.chw, c.padding, c.dilation, c.groups);
    EXPECT_GE(upper, exact * (1 - 1e-9)) << "FFT bound " << upper << " below exact " << exact;
    // The half spectrum and the Gram eigenvalues give the largest singular value of the whole
    // circular spectrum, computed here directly.
    const int64_t n1 = c.chw[1] + 2 * c.padding[0] + c.dilation[0] * (c.k - 1) + 1;
    const int64_t n2 = c.chw[2] + 2 * c.padding[1] + c.dilation[1] * (c.k - 1) + 1;
    auto dense_w = torch::zeros({c.cout, c.cin, c.k, c.k}, torch::kDouble);
    const int64_t per_group = c.cout / c.groups, in_group = c.cin / c.groups;
    for (int64_t g = 0; g < c.groups; ++g)
      dense_w.narrow(0, g * per_group, per_group).narrow(1, g * in_group, in_group).copy_(w.narrow(0, g * per_group, per_group));
    auto k = torch::zeros({c.cout, c.cin, n1, n2}, torch::kDouble);
    for (int64_t i = 0; i < c.k; ++i)
      for (int64_t j = 0; j < c.k; ++j)
        k.select(2, i * c.dilation[0]).select(2, j * c.dilation[1]).copy_(dense_w.select(2, i).select(2, j));
    const double circular =
        at::linalg_svdvals(torch::fft::fft2(k).permute({2, 3, 0, 1})).max().item<double>();
    EXPECT_LT(rel_diff(upper, circular), 1e-9) << "FFT bound " << upper << " whole spectrum " << circular;
  }
}

TEST(LipschitzSmallCnn, GuaranteedBoundsDominateEmpiricalOnes) {
  torch::manual_seed(1);
  auto data = test::image_data(24, 3, 5);
  auto config = Config::load("", {"model.encoder=small_cnn", "model.embed_dim=8"});
  auto net = build_model(config, data.specs, 3);
  // Non-trivial batch-norm statistics, so that folding them into the convolutions matters.
  for (auto& buffer : net->named_buffers()) {
    if (buffer.key().find("running_var") != std::string::npos) buffer.value().uniform_(0.2, 3.0);
    if (buffer.key().find("running_mean") != std::string::npos) buffer.value().normal_(0, 0.5);
  }
  for (auto& p : net->named_parameters())
    if (p.key().find("body.1.weight") != std::string::npos) p.value().data().normal_(1.0, 0.5);
  net->train();
  auto emp = empirical_lipschitz(net, data);
  EXPECT_TRUE(net->is_training()) << "the estimate must restore the model's mode";
  net->eval();
  auto guar = guaranteed_lipschitz(net);
  EXPECT_TRUE((emp.tau > 0).all().item<bool>());
  EXPECT_TRUE((guar.tau >= emp.tau * (1 - 1e-6)).all().item<bool>()) << guar.tau << emp.tau;
  EXPECT_TRUE((guar.pairwise >= emp.pairwise * (1 - 1e-6)).all().item<bool>());
}

// Residual blocks are bounded as L(main path) + L(shortcut): finite, sound, loose. Checked against
// the largest gradients and against random pairs of inputs, for ResNet-18 and -34 with non-trivial
// batch-norm statistics, on single images and on clips.
TEST(LipschitzResNet, GuaranteedBoundDominatesGradientsAndDifferences) {
  for (const char* encoder : {"model.encoder=resnet18", "model.encoder=resnet34"}) {
    SCOPED_TRACE(encoder);
    torch::manual_seed(2);
    auto data = test::image_data(12, 3, 1);
    auto net = build_model(Config::load("", {encoder, "model.resnet_width=4"}), data.specs, 3);
    for (auto& buffer : net->named_buffers()) {
      if (buffer.key().find("running_var") != std::string::npos) buffer.value().uniform_(0.2, 3.0);
      if (buffer.key().find("running_mean") != std::string::npos) buffer.value().normal_(0, 0.5);
    }
    net->eval();
    ASSERT_TRUE(guaranteed_lipschitz_supported(net));
    auto guar = guaranteed_lipschitz(net);
    auto emp = empirical_lipschitz(net, data);
    EXPECT_TRUE(guar.tau.isfinite().all().item<bool>());
    EXPECT_TRUE((guar.tau >= emp.tau * (1 - 1e-6)).all().item<bool>()) << guar.tau << emp.tau;
    EXPECT_TRUE((guar.pairwise >= emp.pairwise * (1 - 1e-6)).all().item<bool>());
    // |s_k(x) - s_k(x')| <= tau_k ||x - x'|| on random pairs.
    torch::NoGradGuard no_grad;
    auto x = data.all().inputs;
    auto moved = x;
    moved[0] = x[0] + 0.3 * torch::randn_like(x[0]);
    auto a = net->forward(x).unimodal_scores[0], b = net->forward(moved).unimodal_scores[0];
    auto dist = (moved[0] - x[0]).flatten(1).norm(2, {1}).to(torch::kDouble);
    auto ratio = ((a - b).abs().to(torch::kDouble) / dist.unsqueeze(1)).amax(0);
    EXPECT_TRUE((ratio <= guar.tau[0]).all().item<bool>()) << ratio << guar.tau[0];
  }
}

TEST(LipschitzResNet, ClipBoundIsTheFrameBoundOverSqrtT) {
  torch::manual_seed(3);
  ModalitySpec frame{"v", {3, 16, 16}}, clip{"v", {4, 3, 16, 16}};
  ResNetImpl net(3, 4, 18, 4);
  const double one = resnet_lipschitz_bound(net, frame), four = resnet_lipschitz_bound(net, clip);
  EXPECT_NEAR(four, one / 2.0, 1e-9 * one);
}

TEST(LipschitzTransformer, GuaranteedIsRefusedWithTheReason) {
  auto data = test::image_data(4, 2, 1);
  auto net = build_model(Config::load("", {"model.encoder=transformer", "model.transformer.dim=8",
                                           "model.transformer.depth=1", "model.transformer.heads=2",
                                           "model.transformer.patch=4"}),
                         data.specs, 2);
  std::string why;
  EXPECT_FALSE(guaranteed_lipschitz_supported(net, &why));
  EXPECT_NE(why.find("not globally Lipschitz"), std::string::npos) << why;
  EXPECT_THROW(guaranteed_lipschitz(net), Error);
  EXPECT_THROW(check_lipschitz_kind("exact"), Error);
  auto emp = empirical_lipschitz(net, data);  // the empirical estimate still runs
  EXPECT_TRUE((emp.tau > 0).all().item<bool>());
}

// Joint encoders: the empirical sensitivity of s(m) to x(m) (others held) is measured, but no
// certificate is built on it.
TEST(LipschitzJoint, EmpiricalRunsAndCertificatesAreRefused) {
  auto data = test::image_data(6, 3, 1);
  for (const char* fusion : {"model.fusion=mmtm", "model.fusion=transformer"}) {
    SCOPED_TRACE(fusion);
    auto net = build_model(Config::load("", {fusion, "model.encoder=resnet18", "model.resnet_width=4",
                                             "model.transformer.dim=8", "model.transformer.depth=1",
                                             "model.transformer.heads=2", "model.transformer.patch=4"}),
                           data.specs, 3);
    auto emp = empirical_lipschitz(net, data);
    EXPECT_TRUE((emp.tau > 0).all().item<bool>());
    std::string why;
    EXPECT_FALSE(guaranteed_lipschitz_supported(net, &why));
    EXPECT_NE(why.find("late-fusion"), std::string::npos) << why;
    why = test::error_of([&] { certify(net, data, emp, {0.0}); });
    EXPECT_NE(why.find("late-fusion"), std::string::npos) << why;
    EXPECT_THROW(net->encode(0, data.all().inputs[0]), Error);
  }
}

TEST(LipschitzResNet, EmpiricalEstimateIsTheSameWithChannelsLastConvolutions) {
  // On a GPU the ResNet encoders keep their convolutions in channels-last memory (found by the GPU
  // check: the input gradients then have strides a plain view cannot reshape).
  torch::manual_seed(0);
  ModalitySpecs specs{ModalitySpec{"frames", {2, 3, 16, 16}}, ModalitySpec{"image", {3, 16, 16}}};
  auto data = MultiModalDataset::in_memory(specs, {torch::randn({3, 2, 3, 16, 16}), torch::randn({3, 3, 16, 16})},
                                           torch::tensor({0, 1, 0}, torch::kLong), {"a", "b"}, "three RGB samples");
  auto config = Config::load("", {"model.encoder=resnet18", "model.head=orthogonal"});
  auto net = build_model(config, data.specs, 2);
  auto plain = empirical_lipschitz(net, data, 3);
  for (size_t m = 0; m < net->num_modalities(); ++m) dynamic_cast<ResNetImpl&>(net->encoder(m)).use_channels_last();
  auto nhwc = empirical_lipschitz(net, data, 3);
  EXPECT_TRUE(torch::allclose(nhwc.tau, plain.tau, 1e-4, 1e-7));
  EXPECT_TRUE(torch::allclose(nhwc.pairwise, plain.pairwise, 1e-4, 1e-7));
}

TEST(LayerBounds, TwoUnsupportedLayerKindsGiveOneErrorNamingBoth) {
  MultiModalDataset data;
  auto net = linear_model("concat", &data);
  // Modality 0 (7 features, embedding 6): Flatten, Linear, Tanh, Linear, Sigmoid, Linear.
  auto& mlp = dynamic_cast<MlpImpl&>(net->encoder(0));
  torch::nn::Sequential body(torch::nn::Flatten(), torch::nn::Linear(7, 6), torch::nn::Tanh(), torch::nn::Linear(6, 6),
                             torch::nn::Sigmoid(), torch::nn::Linear(6, 6));
  mlp.body = mlp.replace_module("body", body);
  net->eval();
  ASSERT_EQ(net->forward(data.all()).logits.size(1), 4);
  const std::string message = test::error_of([&] { guaranteed_lipschitz(net); });
  EXPECT_NE(message.find("layer 2 (Tanh)"), std::string::npos) << message;
  EXPECT_NE(message.find("layer 4 (Sigmoid)"), std::string::npos) << message;
  EXPECT_NE(message.find("'linear'"), std::string::npos) << "names the encoder: " << message;
  EXPECT_EQ(message.find("layer 1 "), std::string::npos) << "Linear is supported: " << message;
  std::string why;
  EXPECT_FALSE(guaranteed_lipschitz_supported(net, &why));
  EXPECT_EQ(why, message);
}

TEST(LayerBounds, TableKnowsTheBuiltInLayersByExactType) {
  for (const auto& [module, name] : std::vector<std::pair<std::shared_ptr<torch::nn::Module>, std::string>>{
           {torch::nn::Linear(3, 2).ptr(), "Linear"},
           {torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 2, 3)).ptr(), "Conv2d"},
           {torch::nn::BatchNorm2d(2).ptr(), "BatchNorm2d"},
           {crmt::BatchNorm2d(2).ptr(), "BatchNorm2d"},  // the synchronising one crmt's models use
           {torch::nn::ReLU().ptr(), "ReLU"},
           {torch::nn::MaxPool2d(2).ptr(), "MaxPool2d"},
           {torch::nn::AdaptiveAvgPool2d(1).ptr(), "AdaptiveAvgPool2d"},
           {torch::nn::Flatten().ptr(), "Flatten"},
           {torch::nn::Identity().ptr(), "Identity"},
           {torch::nn::Dropout().ptr(), "Dropout"}}) {
    const auto* entry = find_layer_bound(*module);
    ASSERT_NE(entry, nullptr) << name;
    EXPECT_EQ(entry->name, name);
    EXPECT_EQ(layer_type_name(*module), name);
    EXPECT_EQ(entry->shape_only, name == "Flatten" || name == "Identity" || name == "Dropout") << name;
  }
  EXPECT_EQ(find_layer_bound(*torch::nn::Tanh()), nullptr);
  EXPECT_EQ(find_layer_bound(*torch::nn::Sequential()), nullptr);
  const auto names = supported_layer_names();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(names.size(), 9u);
}

// The per-layer chain as the bound was written before the layer table (one dynamic_pointer_cast
// per type): the table must reproduce its numbers bit for bit.
struct ReferenceBound {
  double rest = 1.0;
  torch::Tensor tail;
};

ReferenceBound reference_bound(torch::nn::Sequential& body, const ModalitySpec& spec) {
  namespace nn = torch::nn;
  torch::NoGradGuard no_grad;
  std::vector<std::shared_ptr<nn::Module>> layers;
  std::vector<std::vector<int64_t>> in_shapes;
  std::vector<int64_t> shape{1};
  shape.insert(shape.end(), spec.shape.begin(), spec.shape.end());
  auto x = torch::zeros(shape);
  for (auto& any : *body) {
    layers.push_back(any.ptr());
    in_shapes.push_back(x.sizes().vec());
    x = any.forward(x);
  }
  auto shape_only = [](const std::shared_ptr<nn::Module>& l) {
    return std::dynamic_pointer_cast<nn::FlattenImpl>(l) || std::dynamic_pointer_cast<nn::IdentityImpl>(l) ||
           std::dynamic_pointer_cast<nn::DropoutImpl>(l);
  };
  auto bn_scale = [](nn::BatchNorm2dImpl& bn) {
    auto scale = (bn.running_var.to(torch::kDouble) + bn.options.eps()).rsqrt();
    return scale * bn.weight.detach().to(torch::kDouble);
  };
  ReferenceBound out;
  size_t end = layers.size(), t = layers.size();
  while (t > 0 && shape_only(layers[t - 1])) --t;
  if (t > 0)
    if (auto lin = std::dynamic_pointer_cast<nn::LinearImpl>(layers[t - 1])) {
      out.tail = lin->weight.detach().to(torch::kDouble);
      end = t - 1;
    }
  double product = 1.0;
  for (size_t i = 0; i < end; ++i) {
    const auto& layer = layers[i];
    const auto& in = in_shapes[i];
    if (shape_only(layer) || std::dynamic_pointer_cast<nn::ReLUImpl>(layer)) continue;
    if (auto lin = std::dynamic_pointer_cast<nn::LinearImpl>(layer)) {
      product *= spectral_norm(lin->weight.detach());
    } else if (auto conv = std::dynamic_pointer_cast<nn::Conv2dImpl>(layer)) {
      const auto& o = conv->options;
      auto weight = conv->weight.detach().to(torch::kDouble);
      if (i + 1 < end)
        if (auto bn = std::dynamic_pointer_cast<nn::BatchNorm2dImpl>(layers[i + 1])) {
          weight = weight * bn_scale(*bn).view({-1, 1, 1, 1});
          ++i;
        }
      // Conv padding is a c10::variant in LibTorch 1.x and a std::variant in 2.x: with std::get in
      // scope, argument-dependent lookup finds c10::get for the former.
      using std::get;
      auto pad = get<torch::ExpandingArray<2>>(o.padding());
      std::vector<int64_t> chw(in.begin() + 1, in.end());
      std::vector<int64_t> stride(o.stride()->begin(), o.stride()->end());
      std::vector<int64_t> padding(pad->begin(), pad->end());
      std::vector<int64_t> dilation(o.dilation()->begin(), o.dilation()->end());
      const double power = conv2d_operator_norm(weight, chw, stride, padding, dilation, o.groups());
      const double upper = conv2d_norm_upper_bound(weight, chw, padding, dilation, o.groups());
      product *= std::min(upper, power * (1.0 + 1e-3));
    } else if (auto bn = std::dynamic_pointer_cast<nn::BatchNorm2dImpl>(layer)) {
      product *= bn_scale(*bn).abs().max().item<double>();
    } else if (auto pool = std::dynamic_pointer_cast<nn::MaxPool2dImpl>(layer)) {
      double overlap = 1.0;
      for (int a = 0; a < 2; ++a) {
        const int64_t k = (*pool->options.kernel_size())[a], s = (*pool->options.stride())[a];
        overlap *= static_cast<double>((k + s - 1) / s);
      }
      product *= std::sqrt(overlap);
    } else if (std::dynamic_pointer_cast<nn::AdaptiveAvgPool2dImpl>(layer)) {
      product /= std::sqrt(static_cast<double>(in[2] * in[3]));  // output size 1 in these tests
    } else {
      ADD_FAILURE() << "reference_bound: unexpected layer " << layer->name();
    }
  }
  out.rest = product;
  return out;
}

void expect_bit_identical_to_reference(MultiModalNet& net) {
  net->eval();
  auto guar = guaranteed_lipschitz(net);
  for (size_t m = 0; m < net->num_modalities(); ++m) {
    torch::nn::Sequential body{nullptr};
    if (auto* cnn = dynamic_cast<SmallCnnImpl*>(&net->encoder(m))) body = cnn->body;
    if (auto* mlp = dynamic_cast<MlpImpl*>(&net->encoder(m))) body = mlp->body;
    ASSERT_TRUE(body) << m;
    auto ref = reference_bound(body, net->specs()[m]);
    auto r = unimodal_score_weight(net, m);
    auto diffs = r.unsqueeze(1) - r.unsqueeze(0);
    if (ref.tail.defined()) {
      r = torch::matmul(r, ref.tail);
      diffs = torch::matmul(diffs, ref.tail);
    }
    auto tau = r.norm(2, {1}) * ref.rest;
    auto pairwise = diffs.norm(2, {2}) * ref.rest;
    pairwise.fill_diagonal_(0);
    const auto mi = static_cast<int64_t>(m);
    EXPECT_TRUE(torch::equal(guar.tau[mi], tau)) << m << "\n" << guar.tau[mi] << "\n" << tau;
    EXPECT_TRUE(torch::equal(guar.pairwise[mi], pairwise)) << m;
  }
}

TEST(LayerBounds, SmallCnnBoundIsBitIdenticalToThePerTypeChain) {
  torch::manual_seed(4);
  auto data = test::image_data(8, 3, 2);
  auto config = Config::load("", {"model.encoder=small_cnn", "model.embed_dim=8"});
  auto net = build_model(config, data.specs, 3);
  for (auto& buffer : net->named_buffers())
    if (buffer.key().find("running_var") != std::string::npos) buffer.value().uniform_(0.2, 3.0);
  for (auto& p : net->named_parameters())
    if (p.key().find("body.1.weight") != std::string::npos) p.value().data().normal_(1.0, 0.5);
  expect_bit_identical_to_reference(net);
}

TEST(LayerBounds, MlpBoundIsBitIdenticalToThePerTypeChain) {
  torch::manual_seed(5);
  SyntheticOptions o;
  o.samples = 10;
  o.classes = 4;
  o.dims = {7, 5};
  auto data = make_synthetic(o);
  auto config = Config::load("", {"model.encoder=mlp", "model.hidden_dim=9", "model.embed_dim=6"});
  auto net = build_model(config, data.specs, 4);
  expect_bit_identical_to_reference(net);
}

}  // namespace
}  // namespace crmt
