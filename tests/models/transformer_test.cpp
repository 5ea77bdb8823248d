#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "crmt/core/error.h"
#include "crmt/models/transformer/multimodal_transformer.h"
#include "crmt/models/transformer/transformer_blocks.h"
#include "crmt/models/transformer/vision_transformer.h"

namespace crmt {
namespace {

TransformerOptions tiny(const std::string& pool = "cls", int64_t depth = 2) {
  TransformerOptions o;
  o.dim = 32;
  o.depth = depth;
  o.heads = 2;
  o.mlp_ratio = 2.0;
  o.patch = 8;
  o.pool = pool;
  return o;
}

std::vector<std::string> parameter_names(torch::nn::Module& module) {
  std::vector<std::string> names;
  for (const auto& p : module.named_parameters()) names.push_back(p.key());
  return names;
}

// timm's names for one block, in timm's order.
std::vector<std::string> block_names(const std::string& prefix) {
  std::vector<std::string> names;
  for (const char* n : {"norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight",
                        "attn.proj.bias", "norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias",
                        "mlp.fc2.weight", "mlp.fc2.bias"})
    names.push_back(prefix + n);
  return names;
}

// Expects a crmt::Error whose one-line message contains `part`.
void expect_error(const std::function<void()>& f, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "no crmt::Error, expected one mentioning '" << part << "'";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(part), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(VisionTransformer, OutputShapesForSpectrogramsFramesAndImages) {
  torch::manual_seed(0);
  for (const std::string pool : {"cls", "mean"}) {
    VisionTransformer square(1, 1, 32, 32, tiny(pool));
    EXPECT_EQ(square->forward(torch::randn({2, 1, 32, 32})).sizes(), (std::vector<int64_t>{2, 32})) << pool;
    EXPECT_EQ(square->out_dim(), 32);
    EXPECT_EQ(square->kind(), "transformer");
    VisionTransformer spectrogram(1, 1, 128, 96, tiny(pool));
    EXPECT_EQ(spectrogram->num_patches(), 16 * 12);
    EXPECT_EQ(spectrogram->pos_embed.sizes(), (std::vector<int64_t>{1, (pool == "cls" ? 1 : 0) + 16 * 12, 32}));
    EXPECT_EQ(spectrogram->forward(torch::randn({2, 1, 128, 96})).sizes(), (std::vector<int64_t>{2, 32}));
    VisionTransformer frames(3, 3, 32, 32, tiny(pool));
    EXPECT_EQ(frames->forward(torch::randn({2, 3, 3, 32, 32})).sizes(), (std::vector<int64_t>{2, 32}));
    VisionTransformer image(1, 1, 28, 28, tiny(pool));  // 28 / 8: a 3x3 grid, the last 4 rows and columns unused
    EXPECT_EQ(image->num_patches(), 9);
    EXPECT_EQ(image->forward(torch::randn({2, 1, 28, 28})).sizes(), (std::vector<int64_t>{2, 32}));
    EXPECT_EQ(image->cls_token.defined(), pool == "cls");
  }
}

TEST(VisionTransformer, ClipIsTheMeanOfItsFramesEncodedAlone) {
  torch::manual_seed(1);
  for (const std::string pool : {"cls", "mean"}) {
    VisionTransformer vit(3, 3, 16, 24, tiny(pool));
    auto clip = torch::randn({2, 3, 3, 16, 24});
    auto expected = torch::zeros({2, 32});
    for (int64_t t = 0; t < 3; ++t) expected += vit->forward(clip.select(1, t)) / 3.0;
    EXPECT_TRUE(torch::allclose(vit->forward(clip), expected, 1e-5, 1e-5)) << pool;
  }
}

TEST(VisionTransformer, ParametersCarryTimmNames) {
  VisionTransformer vit(1, 1, 16, 16, tiny("cls", 2));
  std::vector<std::string> expected = {"cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias"};
  for (const auto& b : {"blocks.0.", "blocks.1."})
    for (const auto& n : block_names(b)) expected.push_back(n);
  expected.push_back("norm.weight");
  expected.push_back("norm.bias");
  EXPECT_EQ(parameter_names(*vit), expected);
  // timm's shapes: qkv [3 D, D], fc1 [D * mlp_ratio, D], patch filters [D, C, p, p].
  auto params = vit->named_parameters();
  EXPECT_EQ(params["blocks.1.attn.qkv.weight"].sizes(), (std::vector<int64_t>{96, 32}));
  EXPECT_EQ(params["blocks.1.mlp.fc1.weight"].sizes(), (std::vector<int64_t>{64, 32}));
  EXPECT_EQ(params["patch_embed.proj.weight"].sizes(), (std::vector<int64_t>{32, 1, 8, 8}));
  EXPECT_EQ(params["pos_embed"].sizes(), (std::vector<int64_t>{1, 5, 32}));
  // Mean pooling has no class token and no slot for it.
  VisionTransformer mean(1, 1, 16, 16, tiny("mean", 2));
  auto names = parameter_names(*mean);
  EXPECT_EQ(names, std::vector<std::string>(expected.begin() + 1, expected.end()));
  EXPECT_EQ(mean->pos_embed.sizes(), (std::vector<int64_t>{1, 4, 32}));
}

TEST(VisionTransformer, InitialisesLikeTimm) {
  torch::manual_seed(2);
  VisionTransformer vit(1, 1, 16, 16, tiny());
  auto params = vit->named_parameters();
  EXPECT_EQ(params["blocks.0.attn.qkv.bias"].abs().max().item<double>(), 0.0);
  EXPECT_TRUE(torch::equal(params["norm.weight"], torch::ones({32})));
  EXPECT_LE(params["blocks.0.mlp.fc1.weight"].abs().max().item<double>(), 0.04);
  EXPECT_GT(params["pos_embed"].abs().max().item<double>(), 0.0);
  // N(0, 0.02^2) truncated at 2 std has std 0.02 * 0.8796.
  auto sample = torch::empty({20000});
  trunc_normal_(sample, 0.02);
  EXPECT_LE(sample.abs().max().item<double>(), 0.04);
  EXPECT_NEAR(sample.std().item<double>(), 0.02 * 0.8796, 5e-4);
  EXPECT_NEAR(sample.mean().item<double>(), 0.0, 5e-4);
}

TEST(TransformerBlocks, AttentionSplitsQkvAndHeadsAsTimm) {
  // timm: qkv rows are [q; k; v], each split into heads of D / heads consecutive rows.
  torch::manual_seed(3);
  const int64_t d = 8, heads = 2, hd = 4;
  Attention attn(d, heads);
  init_vit_weights(*attn);
  {
    torch::NoGradGuard no_grad;
    attn->qkv->bias.normal_();
  }
  auto x = torch::randn({2, 5, d});
  auto w = attn->qkv->weight, b = attn->qkv->bias;
  std::vector<torch::Tensor> outs;
  for (int64_t h = 0; h < heads; ++h) {
    auto part = [&](int64_t which) {
      const int64_t row = which * d + h * hd;
      return torch::matmul(x, w.slice(0, row, row + hd).t()) + b.slice(0, row, row + hd);
    };
    auto scores = torch::matmul(part(0), part(1).transpose(1, 2)) / std::sqrt(static_cast<double>(hd));
    outs.push_back(torch::matmul(torch::softmax(scores, -1), part(2)));
  }
  auto expected = attn->proj(torch::cat(outs, -1));
  EXPECT_TRUE(torch::allclose(attn->forward(x), expected, 1e-5, 1e-6));
}

TEST(TransformerBlocks, PatchTokensAreInRowMajorOrder) {
  PatchEmbed embed(1, 1, 4);
  {
    torch::NoGradGuard no_grad;
    embed->proj->weight.fill_(1.0);
    embed->proj->bias.zero_();
  }
  auto x = torch::randn({1, 1, 8, 13});  // a 2x3 grid; the last column is dropped
  auto tokens = embed->forward(x);
  ASSERT_EQ(tokens.sizes(), (std::vector<int64_t>{1, 6, 1}));
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      EXPECT_NEAR(tokens[0][i * 3 + j][0].item<double>(),
                  x.slice(2, 4 * i, 4 * i + 4).slice(3, 4 * j, 4 * j + 4).sum().item<double>(), 1e-4);
  expect_error([&] { embed->forward(torch::randn({1, 1, 3, 13})); }, "[1, 1, 3, 13]");
}

TEST(TransformerBlocks, BlockIsPreNormResidual) {
  torch::manual_seed(4);
  TransformerBlock block(8, 2, 4.0);
  auto x = torch::randn({3, 4, 8});
  auto y = x + block->attn(block->norm1(x));
  auto expected = y + block->mlp->fc2(torch::gelu(block->mlp->fc1(block->norm2(y))));
  EXPECT_TRUE(torch::allclose(block->forward(x), expected));
  EXPECT_DOUBLE_EQ(block->norm1->options.eps(), 1e-6);
}

TEST(VisionTransformer, RejectsBadShapesAndOptions) {
  VisionTransformer vit(1, 1, 16, 24, tiny());
  expect_error([&] { vit->forward(torch::randn({2, 16, 24})); }, "got [2, 16, 24]");
  expect_error([&] { vit->forward(torch::randn({2, 3, 16, 24})); }, "[N, 1, 16, 24]");
  expect_error([&] { vit->forward(torch::randn({2, 1, 24, 16})); }, "got [2, 1, 24, 16]");
  expect_error([&] { vit->forward(torch::randn({2, 0, 1, 16, 24})); }, "got [2, 0, 1, 16, 24]");
  expect_error([] { VisionTransformer(1, 1, 4, 32, tiny()); }, "model.transformer.patch");
  expect_error([] { VisionTransformer(0, 1, 16, 16, tiny()); }, "transformer encoder");
  auto with = [](std::function<void(TransformerOptions&)> change) {
    auto o = tiny();
    change(o);
    return o;
  };
  expect_error([&] { check(with([](auto& o) { o.heads = 3; })); }, "model.transformer.heads");
  expect_error([&] { check(with([](auto& o) { o.dim = 0; })); }, "model.transformer.dim");
  expect_error([&] { check(with([](auto& o) { o.depth = 0; })); }, "model.transformer.depth");
  expect_error([&] { check(with([](auto& o) { o.heads = 0; })); }, "model.transformer.heads");
  expect_error([&] { check(with([](auto& o) { o.patch = 0; })); }, "model.transformer.patch");
  expect_error([&] { check(with([](auto& o) { o.mlp_ratio = 0.0; })); }, "model.transformer.mlp_ratio");
  expect_error([&] { check(with([](auto& o) { o.pool = "max"; })); }, "model.transformer.pool");
  expect_error([&] { VisionTransformer(1, 1, 16, 16, with([](auto& o) { o.pool = "max"; })); },
               "model.transformer.pool");
  EXPECT_NO_THROW(check(TransformerOptions{}));
}

// Modalities: "a" an image [3, 16, 16], "b" a clip [2, 1, 16, 24].
MultiModalTransformer two_modalities(const std::string& pool = "cls", int64_t depth = 2) {
  return MultiModalTransformer(std::vector<std::vector<int64_t>>{{3, 16, 16}, {2, 1, 16, 24}},
                               std::vector<std::string>{"a", "b"}, tiny(pool, depth));
}

TEST(MultiModalTransformer, OutputShapesAndNames) {
  torch::manual_seed(5);
  for (const std::string pool : {"cls", "mean"}) {
    auto model = two_modalities(pool);
    auto out = model->forward({torch::randn({4, 3, 16, 16}), torch::randn({4, 2, 1, 16, 24})});
    ASSERT_EQ(out.size(), 2u);
    for (const auto& o : out) EXPECT_EQ(o.sizes(), (std::vector<int64_t>{4, 32})) << pool;
    EXPECT_EQ(model->out_dims(), (std::vector<int64_t>{32, 32}));
    EXPECT_EQ(model->kind(), "multimodal_transformer");
    const int64_t cls = pool == "cls" ? 1 : 0;
    EXPECT_EQ(model->tokenizer(0).num_tokens(), cls + 4);
    EXPECT_EQ(model->tokenizer(1).num_tokens(), cls + 2 * 6);
  }
  // A single-frame modality also takes a clip of one frame; any number of modalities.
  MultiModalTransformer three(std::vector<std::vector<int64_t>>{{1, 8, 8}, {1, 1, 16, 16}, {2, 1, 8, 8}},
                              std::vector<std::string>{"x", "y", "z"}, tiny());
  auto out = three->forward(
      {torch::randn({2, 1, 1, 8, 8}), torch::randn({2, 1, 16, 16}), torch::randn({2, 2, 1, 8, 8})});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].sizes(), (std::vector<int64_t>{2, 32}));
  MultiModalTransformer one(std::vector<std::vector<int64_t>>{{1, 8, 8}}, std::vector<std::string>{"x"}, tiny());
  EXPECT_EQ(one->forward({torch::randn({2, 1, 8, 8})})[0].sizes(), (std::vector<int64_t>{2, 32}));

  auto model = two_modalities("cls", 1);
  std::vector<std::string> expected = {
      "tokenizers.a.cls_token", "tokenizers.a.pos_embed", "tokenizers.a.modality_embed",
      "tokenizers.a.patch_embed.proj.weight", "tokenizers.a.patch_embed.proj.bias",
      "tokenizers.b.cls_token", "tokenizers.b.pos_embed", "tokenizers.b.time_embed", "tokenizers.b.modality_embed",
      "tokenizers.b.patch_embed.proj.weight", "tokenizers.b.patch_embed.proj.bias"};
  for (const auto& n : block_names("blocks.0.")) expected.push_back(n);
  expected.push_back("norm.weight");
  expected.push_back("norm.bias");
  EXPECT_EQ(parameter_names(*model), expected);
  auto params = model->named_parameters();
  EXPECT_EQ(params["tokenizers.b.pos_embed"].sizes(), (std::vector<int64_t>{1, 6, 32}));
  EXPECT_EQ(params["tokenizers.b.time_embed"].sizes(), (std::vector<int64_t>{1, 2, 32}));
  EXPECT_EQ(model->modality_parameters(1).size(), 6u);
  EXPECT_TRUE(model->modality_parameters(0)[0].is_same(params["tokenizers.a.cls_token"]));
}

TEST(MultiModalTransformer, EachModalitySeesTheOthers) {
  torch::manual_seed(6);
  auto model = two_modalities();
  auto a = torch::randn({3, 3, 16, 16}), b = torch::randn({3, 2, 1, 16, 24});
  auto out = model->forward({a, b});
  auto changed = model->forward({a, b + torch::randn_like(b)});
  EXPECT_FALSE(torch::allclose(out[0], changed[0])) << "modality a's embedding must depend on b's input";
  EXPECT_FALSE(torch::allclose(out[1], changed[1]));
}

TEST(MultiModalTransformer, GradientsReachEveryParameter) {
  torch::manual_seed(7);
  auto model = two_modalities();
  auto out = model->forward({torch::randn({2, 3, 16, 16}), torch::randn({2, 2, 1, 16, 24})});
  (out[0].pow(2).sum() + (out[1] * torch::randn_like(out[1])).sum()).backward();
  for (const auto& p : model->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
}

TEST(MultiModalTransformer, PermutingTheBatchPermutesTheOutputs) {
  torch::manual_seed(8);
  auto model = two_modalities();
  auto a = torch::randn({4, 3, 16, 16}), b = torch::randn({4, 2, 1, 16, 24});
  auto order = torch::tensor({2, 0, 3, 1}, torch::kLong);
  auto out = model->forward({a, b});
  auto permuted = model->forward({a.index_select(0, order), b.index_select(0, order)});
  for (size_t m = 0; m < 2; ++m)
    EXPECT_TRUE(torch::allclose(permuted[m], out[m].index_select(0, order), 1e-5, 1e-5)) << m;
}

TEST(MultiModalTransformer, RejectsBadShapesAndNames) {
  auto model = two_modalities();
  auto a = torch::randn({2, 3, 16, 16}), b = torch::randn({2, 2, 1, 16, 24});
  expect_error([&] { model->forward({a}); }, "expects 2 modalities");
  expect_error([&] { model->forward({a, torch::randn({2, 1, 16, 24})}); }, "modality 'b' expects [N, 2, 1, 16, 24]");
  expect_error([&] { model->forward({torch::randn({2, 3, 16, 8}), b}); }, "got [2, 3, 16, 8]");
  expect_error([&] { model->forward({a, torch::randn({3, 2, 1, 16, 24})}); }, "batch size");
  using Shapes = std::vector<std::vector<int64_t>>;
  using Names = std::vector<std::string>;
  expect_error([] { MultiModalTransformer(Shapes{}, Names{}, tiny()); }, "at least one modality");
  expect_error([] { MultiModalTransformer(Shapes{{1, 8, 8}}, Names{"a", "b"}, tiny()); }, "2 names");
  expect_error([] { MultiModalTransformer(Shapes{{8, 8}}, Names{"a"}, tiny()); }, "modality 'a' has shape [8, 8]");
  expect_error([] { MultiModalTransformer(Shapes{{1, 4, 8}}, Names{"a"}, tiny()); }, "model.transformer.patch");
  expect_error([] { MultiModalTransformer(Shapes{{1, 8, 8}, {1, 8, 8}}, Names{"a", "a"}, tiny()); }, "twice");
  expect_error([] { MultiModalTransformer(Shapes{{1, 8, 8}}, Names{"a.b"}, tiny()); }, "without dots");
  auto bad = tiny();
  bad.dim = 33;
  expect_error([&] { MultiModalTransformer(Shapes{{1, 8, 8}}, Names{"a"}, bad); }, "model.transformer.dim");
}

}  // namespace
}  // namespace crmt
