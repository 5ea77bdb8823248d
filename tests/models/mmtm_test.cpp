#include <gtest/gtest.h>
#include <torch/torch.h>

#include "crmt/core/error.h"
#include "crmt/models/mmtm/mmtm.h"
#include "crmt/models/mmtm/mmtm_net.h"
#include "test_util.h"

namespace crmt {
namespace {

// Excitation weights 0 and a large bias: every gate is sigmoid(50) = 1 in float32.
void open_all_gates(MmtmImpl& mmtm) {
  torch::NoGradGuard no_grad;
  for (auto& e : mmtm.excite) {
    e->weight.zero_();
    e->bias.fill_(50.0);
  }
}

TEST(Mmtm, GatesLieStrictlyBetweenZeroAndOne) {
  torch::manual_seed(0);
  MmtmImpl mmtm({8, 4});
  EXPECT_EQ(mmtm.code_dim(), 2 * 12 / 4);
  // A clip of 3 frames for stream 0, single maps for stream 1, 5 samples.
  std::vector<torch::Tensor> features{torch::randn({15, 8, 4, 4}) * 3, torch::randn({5, 4, 6, 2}) * 3};
  auto gates = mmtm.gates(features, {3, 1});
  ASSERT_EQ(gates.size(), 2u);
  EXPECT_EQ(gates[0].sizes(), (std::vector<int64_t>{5, 8}));
  EXPECT_EQ(gates[1].sizes(), (std::vector<int64_t>{5, 4}));
  for (const auto& g : gates) {
    EXPECT_GT(g.min().item<double>(), 0.0);
    EXPECT_LT(g.max().item<double>(), 1.0);
  }
  // out = in * gate, the gate shared by a sample's frames and positions.
  auto out = mmtm.forward(features, {3, 1});
  auto expected = features[0] * gates[0].repeat_interleave(3, 0).view({15, 8, 1, 1});
  EXPECT_TRUE(torch::allclose(out[0], expected));
  EXPECT_EQ(out[1].sizes(), features[1].sizes());
}

TEST(Mmtm, OutputIsTheInputWhenTheExcitationIsConstantOne) {
  torch::manual_seed(1);
  MmtmImpl mmtm({6, 6, 3});  // any number of streams
  std::vector<torch::Tensor> features{torch::randn({4, 6, 3, 3}), torch::randn({8, 6, 2, 2}), torch::randn({4, 3, 5, 5})};
  std::vector<torch::Tensor> ones{torch::ones({4, 6}), torch::ones({4, 6}), torch::ones({4, 3})};
  auto out = MmtmImpl::apply_gates(features, ones, {1, 2, 1});
  for (size_t m = 0; m < features.size(); ++m) EXPECT_TRUE(torch::equal(out[m], features[m])) << m;
  open_all_gates(mmtm);
  out = mmtm.forward(features, {1, 2, 1});
  for (size_t m = 0; m < features.size(); ++m) EXPECT_TRUE(torch::equal(out[m], features[m])) << m;
}

TEST(Mmtm, GatesDependOnEveryStream) {
  torch::manual_seed(2);
  MmtmImpl mmtm({4, 4});
  auto a = torch::randn({2, 4, 3, 3}), b = torch::randn({2, 4, 3, 3});
  auto g = mmtm.gates({a, b}, {1, 1});
  auto g_changed = mmtm.gates({a, b + 2.0 * torch::randn_like(b)}, {1, 1});
  EXPECT_FALSE(torch::allclose(g[0], g_changed[0])) << "stream 0's gate must see stream 1";
}

TEST(Mmtm, RejectsBadShapesAndOptions) {
  EXPECT_THROW(MmtmImpl({8}), Error);
  EXPECT_THROW(MmtmImpl({8, 4}, 0), Error);
  MmtmImpl mmtm({8, 4});
  auto why = test::error_of([&] { mmtm.gates({torch::randn({2, 5, 3, 3}), torch::randn({2, 4, 3, 3})}, {1, 1}); });
  EXPECT_NE(why.find("[2, 5, 3, 3]"), std::string::npos) << why;
}

std::shared_ptr<MmtmNetImpl> two_streams(std::vector<int> stages, int64_t depth = 18) {
  std::vector<std::shared_ptr<ResNetImpl>> streams{std::make_shared<ResNetImpl>(3, 2, depth, 4),
                                                    std::make_shared<ResNetImpl>(1, 1, depth, 4)};
  return std::make_shared<MmtmNetImpl>(std::vector<std::string>{"visual", "audio"}, streams, stages, 4);
}

TEST(MmtmNet, EmbeddingsHaveEachStreamsWidthAndMixTheModalities) {
  torch::manual_seed(3);
  auto net = two_streams({2, 3, 4}, 34);
  net->eval();
  auto clip = torch::randn({3, 2, 3, 32, 32}), spec = torch::randn({3, 1, 40, 24});
  auto out = net->forward({clip, spec});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].sizes(), (std::vector<int64_t>{3, 32}));
  EXPECT_EQ(out[1].sizes(), (std::vector<int64_t>{3, 32}));
  EXPECT_EQ(net->out_dims(), (std::vector<int64_t>{32, 32}));
  EXPECT_EQ(net->kind(), "mmtm234(resnet34)");
  auto changed = net->forward({clip, spec + torch::randn_like(spec)});
  EXPECT_FALSE(torch::allclose(out[0], changed[0])) << "the visual embedding must depend on the audio input";
  EXPECT_EQ(net->modality_parameters(1).size(), net->stream(1).parameters().size());
}

TEST(MmtmNet, WithEveryGateOpenItIsTheTwoResNetsSideBySide) {
  torch::manual_seed(4);
  auto net = two_streams({1, 2, 3, 4});
  for (int s = 1; s <= 4; ++s) open_all_gates(*net->mmtm_after(s));
  net->eval();
  auto clip = torch::randn({2, 2, 3, 16, 16}), spec = torch::randn({2, 1, 20, 12});
  auto out = net->forward({clip, spec});
  EXPECT_TRUE(torch::allclose(out[0], net->stream(0).forward(clip), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(out[1], net->stream(1).forward(spec), 1e-5, 1e-6));
}

TEST(MmtmNet, RejectsBadStages) {
  EXPECT_NE(test::error_of([] { two_streams({5}); }).find("1..4"), std::string::npos);
  EXPECT_NE(test::error_of([] { two_streams({2, 2}); }).find("twice"), std::string::npos);
  EXPECT_NE(test::error_of([] { two_streams({}); }).find("empty"), std::string::npos);
}

}  // namespace
}  // namespace crmt
