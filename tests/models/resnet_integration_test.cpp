#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <string>
#include <vector>

#include "crmt/core/error.h"
#include "crmt/models/resnet.h"

namespace crmt {
namespace {

// torchvision.models.resnet18().state_dict().keys() without fc.weight and fc.bias, in its order.
const std::vector<std::string> kTorchvisionNames = {
    "conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked",
    "layer1.0.conv1.weight", "layer1.0.bn1.weight", "layer1.0.bn1.bias", "layer1.0.bn1.running_mean",
    "layer1.0.bn1.running_var", "layer1.0.bn1.num_batches_tracked", "layer1.0.conv2.weight", "layer1.0.bn2.weight",
    "layer1.0.bn2.bias", "layer1.0.bn2.running_mean", "layer1.0.bn2.running_var", "layer1.0.bn2.num_batches_tracked",
    "layer1.1.conv1.weight", "layer1.1.bn1.weight", "layer1.1.bn1.bias", "layer1.1.bn1.running_mean",
    "layer1.1.bn1.running_var", "layer1.1.bn1.num_batches_tracked", "layer1.1.conv2.weight", "layer1.1.bn2.weight",
    "layer1.1.bn2.bias", "layer1.1.bn2.running_mean", "layer1.1.bn2.running_var", "layer1.1.bn2.num_batches_tracked",
    "layer2.0.conv1.weight", "layer2.0.bn1.weight", "layer2.0.bn1.bias", "layer2.0.bn1.running_mean",
    "layer2.0.bn1.running_var", "layer2.0.bn1.num_batches_tracked", "layer2.0.conv2.weight", "layer2.0.bn2.weight",
    "layer2.0.bn2.bias", "layer2.0.bn2.running_mean", "layer2.0.bn2.running_var", "layer2.0.bn2.num_batches_tracked",
    "layer2.0.downsample.0.weight", "layer2.0.downsample.1.weight", "layer2.0.downsample.1.bias",
    "layer2.0.downsample.1.running_mean", "layer2.0.downsample.1.running_var",
    "layer2.0.downsample.1.num_batches_tracked", "layer2.1.conv1.weight", "layer2.1.bn1.weight", "layer2.1.bn1.bias",
    "layer2.1.bn1.running_mean", "layer2.1.bn1.running_var", "layer2.1.bn1.num_batches_tracked",
    "layer2.1.conv2.weight", "layer2.1.bn2.weight", "layer2.1.bn2.bias", "layer2.1.bn2.running_mean",
    "layer2.1.bn2.running_var", "layer2.1.bn2.num_batches_tracked", "layer3.0.conv1.weight", "layer3.0.bn1.weight",
    "layer3.0.bn1.bias", "layer3.0.bn1.running_mean", "layer3.0.bn1.running_var", "layer3.0.bn1.num_batches_tracked",
    "layer3.0.conv2.weight", "layer3.0.bn2.weight", "layer3.0.bn2.bias", "layer3.0.bn2.running_mean",
    "layer3.0.bn2.running_var", "layer3.0.bn2.num_batches_tracked", "layer3.0.downsample.0.weight",
    "layer3.0.downsample.1.weight", "layer3.0.downsample.1.bias", "layer3.0.downsample.1.running_mean",
    "layer3.0.downsample.1.running_var", "layer3.0.downsample.1.num_batches_tracked", "layer3.1.conv1.weight",
    "layer3.1.bn1.weight", "layer3.1.bn1.bias", "layer3.1.bn1.running_mean", "layer3.1.bn1.running_var",
    "layer3.1.bn1.num_batches_tracked", "layer3.1.conv2.weight", "layer3.1.bn2.weight", "layer3.1.bn2.bias",
    "layer3.1.bn2.running_mean", "layer3.1.bn2.running_var", "layer3.1.bn2.num_batches_tracked",
    "layer4.0.conv1.weight", "layer4.0.bn1.weight", "layer4.0.bn1.bias", "layer4.0.bn1.running_mean",
    "layer4.0.bn1.running_var", "layer4.0.bn1.num_batches_tracked", "layer4.0.conv2.weight", "layer4.0.bn2.weight",
    "layer4.0.bn2.bias", "layer4.0.bn2.running_mean", "layer4.0.bn2.running_var", "layer4.0.bn2.num_batches_tracked",
    "layer4.0.downsample.0.weight", "layer4.0.downsample.1.weight", "layer4.0.downsample.1.bias",
    "layer4.0.downsample.1.running_mean", "layer4.0.downsample.1.running_var",
    "layer4.0.downsample.1.num_batches_tracked", "layer4.1.conv1.weight", "layer4.1.bn1.weight", "layer4.1.bn1.bias",
    "layer4.1.bn1.running_mean", "layer4.1.bn1.running_var", "layer4.1.bn1.num_batches_tracked",
    "layer4.1.conv2.weight", "layer4.1.bn2.weight", "layer4.1.bn2.bias", "layer4.1.bn2.running_mean",
    "layer4.1.bn2.running_var", "layer4.1.bn2.num_batches_tracked",
};

// The encoder's parameters and buffers in state-dict order: each module's own parameters, then
// its own buffers, then its children (as PyTorch's Module.state_dict()).
std::vector<std::string> state_dict_names(ResNetImpl& net) {
  std::vector<std::string> names;
  auto own = [&](const torch::nn::Module& module, const std::string& prefix) {
    for (const auto& p : module.named_parameters(/*recurse=*/false)) names.push_back(prefix + p.key());
    for (const auto& b : module.named_buffers(/*recurse=*/false)) names.push_back(prefix + b.key());
  };
  own(net, "");  // none: the stem's conv1 and bn1 are submodules
  for (const auto& item : net.named_modules("", /*include_self=*/false)) own(*item.value(), item.key() + ".");
  return names;
}

TEST(ResNet18, StateNamesAreTorchvisionsWithoutFc) {
  ResNetImpl net(3, 1);
  EXPECT_EQ(state_dict_names(net), kTorchvisionNames);
  EXPECT_EQ(net.named_parameters().size(), 60u);  // 20 convs + 20 BN (weight, bias)
  EXPECT_EQ(net.named_buffers().size(), 60u);     // 20 BN (running_mean, running_var, num_batches_tracked)
}

TEST(ResNet18, PaperShapes) {
  torch::NoGradGuard no_grad;
  // Audio: a [1, 1024, 128] spectrogram; visual: T = 3 RGB frames; flow: T = 3 (u, v) frames.
  struct Case {
    int64_t channels, frames;
    std::vector<int64_t> shape;
  };
  for (const auto& c : {Case{1, 1, {1, 1, 1024, 128}}, Case{3, 3, {1, 3, 3, 224, 224}}, Case{2, 3, {1, 3, 2, 224, 224}}}) {
    ResNetImpl net(c.channels, c.frames);
    net.eval();
    EXPECT_EQ(net.conv1->weight.sizes(), (std::vector<int64_t>{64, c.channels, 7, 7}));
    auto out = net.forward(torch::randn(c.shape));
    EXPECT_EQ(out.sizes(), (std::vector<int64_t>{1, 512})) << "input " << torch::IntArrayRef(c.shape);
    EXPECT_TRUE(out.isfinite().all().item<bool>());
    EXPECT_EQ(net.out_dim(), 512);
  }
}

TEST(ResNet18, ClipEmbeddingIsTheMeanOfFrameEmbeddings) {
  torch::NoGradGuard no_grad;
  ResNetImpl flow(2, 3);
  flow.eval();
  auto clip = torch::randn({2, 3, 2, 64, 48});
  auto expected = torch::zeros({2, 512});
  for (int64_t t = 0; t < 3; ++t) expected += flow.forward(clip.select(1, t)) / 3;
  EXPECT_TRUE(torch::allclose(flow.forward(clip), expected, 1e-4, 1e-5));
}

TEST(ResNet18, ChannelsLastComputesTheSameEmbeddingsAndGradients) {
  torch::manual_seed(0);
  auto plain = std::make_shared<ResNetImpl>(3, 2), nhwc = std::make_shared<ResNetImpl>(3, 2);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : nhwc->named_parameters()) p.value().copy_(plain->named_parameters()[p.key()]);
  }
  nhwc->use_channels_last();
  EXPECT_TRUE(nhwc->conv1->weight.is_contiguous(at::MemoryFormat::ChannelsLast));
  plain->eval(), nhwc->eval();
  auto x = torch::randn({2, 2, 3, 32, 32});
  auto a = plain->forward(x), b = nhwc->forward(x);
  EXPECT_TRUE(torch::allclose(a, b, 1e-4, 1e-5));
  a.sum().backward();
  b.sum().backward();
  EXPECT_TRUE(torch::allclose(plain->conv1->weight.grad(), nhwc->conv1->weight.grad(), 1e-3, 1e-4));
}

TEST(ResNet18, RejectsWrongChannelsAndRanks) {
  ResNetImpl audio(1, 1);
  audio.eval();
  EXPECT_THROW(audio.forward(torch::randn({1, 3, 32, 32})), Error);
  EXPECT_THROW(audio.forward(torch::randn({1, 32, 32})), Error);
  EXPECT_THROW(ResNetImpl(0, 1), Error);
}

TEST(ResNet18, InitialisationFollowsTheOfficialBackbone) {
  torch::manual_seed(0);
  ResNetImpl net(3, 1);
  std::vector<torch::Tensor> bn_weights;
  int64_t convs = 0, bns = 0;
  for (const auto& item : net.named_modules("", /*include_self=*/false)) {
    if (auto* conv = item.value()->as<torch::nn::Conv2d>()) {
      ++convs;
      const auto& w = conv->weight;
      // kaiming_normal_(mode fan_out, relu): std = sqrt(2 / (out_channels * kh * kw)), mean 0.
      const double fan_out = static_cast<double>(w.size(0) * w.size(2) * w.size(3));
      const double expected = std::sqrt(2.0 / fan_out);
      EXPECT_NEAR(w.std().item<double>(), expected, 0.1 * expected) << item.key();
      EXPECT_NEAR(w.mean().item<double>(), 0.0, 0.1 * expected) << item.key();
      EXPECT_FALSE(conv->bias.defined()) << item.key();
    } else if (auto* bn = item.value()->as<torch::nn::BatchNorm2d>()) {
      ++bns;
      bn_weights.push_back(bn->weight.detach());
      EXPECT_TRUE(torch::equal(bn->bias, torch::zeros_like(bn->bias))) << item.key();
      EXPECT_TRUE(torch::equal(bn->running_mean, torch::zeros_like(bn->running_mean))) << item.key();
      EXPECT_TRUE(torch::equal(bn->running_var, torch::ones_like(bn->running_var))) << item.key();
    }
  }
  EXPECT_EQ(convs, 20);
  EXPECT_EQ(bns, 20);
  // BN weight ~ N(1, 0.02) over all 4800 BN channels (not the constant 1 of the default init).
  auto all = torch::cat(bn_weights);
  EXPECT_EQ(all.numel(), 4800);
  EXPECT_NEAR(all.mean().item<double>(), 1.0, 0.002);
  EXPECT_NEAR(all.std().item<double>(), 0.02, 0.002);
}

}  // namespace
}  // namespace crmt

namespace crmt {
namespace {

// torchvision's resnet34 state-dict names without fc: BasicBlocks [3, 4, 6, 3], a downsample in the
// first block of layers 2-4. Spelled out by rule here, and counted against torchvision's 218.
std::vector<std::string> torchvision_resnet34_names() {
  auto bn = [](const std::string& p) {
    return std::vector<std::string>{p + ".weight", p + ".bias", p + ".running_mean", p + ".running_var",
                                    p + ".num_batches_tracked"};
  };
  std::vector<std::string> names{"conv1.weight"};
  for (auto& n : bn("bn1")) names.push_back(n);
  const int blocks[] = {3, 4, 6, 3};
  for (int layer = 1; layer <= 4; ++layer)
    for (int b = 0; b < blocks[layer - 1]; ++b) {
      const auto p = "layer" + std::to_string(layer) + "." + std::to_string(b);
      names.push_back(p + ".conv1.weight");
      for (auto& n : bn(p + ".bn1")) names.push_back(n);
      names.push_back(p + ".conv2.weight");
      for (auto& n : bn(p + ".bn2")) names.push_back(n);
      if (layer > 1 && b == 0) {
        names.push_back(p + ".downsample.0.weight");
        for (auto& n : bn(p + ".downsample.1")) names.push_back(n);
      }
    }
  return names;
}

TEST(ResNet34, CarriesTorchvisionNamesAndShapes) {
  ResNetImpl net(3, 1, 34);
  std::vector<std::string> names;
  for (const auto& p : net.named_parameters()) names.push_back(p.key());
  for (const auto& b : net.named_buffers()) names.push_back(b.key());
  auto expected = torchvision_resnet34_names();
  EXPECT_EQ(expected.size() + 2, 218u);  // + fc.weight, fc.bias
  std::sort(names.begin(), names.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(names, expected);
  EXPECT_EQ(net.kind(), "resnet34");
  int64_t weights = 0;
  for (const auto& p : net.parameters()) weights += p.numel();
  EXPECT_EQ(weights, 21797672 - 513000);  // torchvision resnet34 without its 1000-class fc
}

TEST(ResNet34, WidthScalesEveryStageAndTheStagesComposeToForward) {
  torch::manual_seed(0);
  ResNetImpl net(1, 1, 34, 16);
  net.eval();
  EXPECT_EQ(net.out_dim(), 128);
  EXPECT_EQ(net.conv1->weight.sizes(), (std::vector<int64_t>{16, 1, 7, 7}));
  auto x = torch::randn({2, 1, 32, 40});
  int64_t t = 0;
  auto y = net.stem(net.fold_frames(x, &t));
  for (int s = 1; s <= 4; ++s) {
    y = net.stage(s, y);
    EXPECT_EQ(y.size(1), net.stage_channels(s));
  }
  EXPECT_TRUE(torch::allclose(ResNetImpl::pool(y, t), net.forward(x)));
  EXPECT_EQ(net.forward(x).sizes(), (std::vector<int64_t>{2, 128}));
  EXPECT_THROW(ResNetImpl(3, 1, 50), Error);
  EXPECT_THROW(ResNetImpl(3, 1, 18, 0), Error);
}

}  // namespace
}  // namespace crmt
