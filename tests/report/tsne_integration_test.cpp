#include "crmt/report/tsne.h"

#include <cmath>

#include <gtest/gtest.h>

#include "crmt/core/error.h"

namespace crmt {
namespace {

// Share of points whose nearest other point (in `map`) has the same label.
double nearest_neighbour_agreement(const at::Tensor& map, const at::Tensor& labels) {
  auto d = squared_distances(map);
  d.fill_diagonal_(INFINITY);
  auto nn = d.argmin(1);
  return labels.index_select(0, nn).eq(labels).to(torch::kFloat64).mean().item<double>();
}

// `per` points around each of `k` centres in `dim` dimensions, centres `spread` apart on average.
std::pair<at::Tensor, at::Tensor> clusters(int64_t k, int64_t per, int64_t dim, double spread, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto centres = at::randn({k, dim}, gen, torch::kFloat64) * spread;
  auto labels = torch::arange(k, torch::kLong).repeat_interleave(per);
  auto x = centres.index_select(0, labels) + at::randn({k * per, dim}, gen, torch::kFloat64);
  return {x, labels};
}

TEST(Tsne, AffinityRowsHaveTheAskedPerplexity) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  auto x = at::randn({80, 6}, gen, torch::kFloat64) * torch::linspace(0.1, 5, 6, torch::kFloat64);
  for (double perplexity : {2.0, 10.0, 25.0}) {
    auto p = conditional_affinities(squared_distances(x), perplexity);
    ASSERT_EQ(p.sizes(), (std::vector<int64_t>{80, 80}));
    EXPECT_NEAR(p.diagonal().abs().max().item<double>(), 0, 0);
    EXPECT_NEAR((p.sum(1) - 1).abs().max().item<double>(), 0, 1e-12);
    auto h = row_entropy(p);
    EXPECT_NEAR((h - std::log(perplexity)).abs().max().item<double>(), 0, 1e-4) << "perplexity " << perplexity;
    // The perplexity 2^H (bits) equals exp(H) (nats).
    EXPECT_NEAR(h.exp().mean().item<double>(), perplexity, 1e-3);
  }
  // Nearer points get more affinity within a row.
  auto d = squared_distances(x);
  auto p = conditional_affinities(d, 10);
  auto row_d = d[0].clone();
  row_d[0] = INFINITY;
  EXPECT_EQ(p[0].argmax().item<int64_t>(), row_d.argmin().item<int64_t>());
  EXPECT_THROW(conditional_affinities(d, 0.5), Error);
}

TEST(Tsne, SquaredDistancesAndPca) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  // Points on a 2-D plane inside 10-D: PCA to 2 dims keeps every distance.
  auto coords = at::randn({30, 2}, gen, torch::kFloat64);
  auto basis = std::get<0>(torch::linalg_qr(at::randn({10, 2}, gen, torch::kFloat64)));
  auto x = coords.mm(basis.t()) + 3.0;
  auto d = squared_distances(x);
  auto brute = (x.unsqueeze(1) - x.unsqueeze(0)).pow(2).sum(2);
  EXPECT_NEAR((d - brute).abs().max().item<double>(), 0, 1e-9);
  auto y = pca(x, 2);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{30, 2}));
  EXPECT_NEAR((squared_distances(y) - d).abs().max().item<double>(), 0, 1e-8);
  EXPECT_EQ(pca(x, 50).size(1), 10);
}

TEST(Tsne, SeparatesGaussianClusters) {
  auto [x, labels] = clusters(5, 40, 20, 6.0, 11);
  // Before: in 20-D the clusters are separated, so the metric itself is near 1.
  ASSERT_GT(nearest_neighbour_agreement(x, labels), 0.95);
  TsneOptions o;
  o.iterations = 500;
  o.perplexity = 20;
  o.pca_dims = 10;
  auto r = tsne(x, o);
  ASSERT_EQ(r.embedding.sizes(), (std::vector<int64_t>{200, 2}));
  EXPECT_TRUE(torch::isfinite(r.embedding).all().item<bool>());
  EXPECT_GT(nearest_neighbour_agreement(r.embedding, labels), 0.9);
  EXPECT_GT(r.kl, 0);
  EXPECT_LT(r.kl, 2.0);
  // Each cluster is compact compared with the distances between clusters in the map.
  double within = 0, between = 0;
  auto d = squared_distances(r.embedding).sqrt();
  auto same = labels.unsqueeze(0).eq(labels.unsqueeze(1));
  within = d.masked_select(same).mean().item<double>();
  between = d.masked_select(~same).mean().item<double>();
  EXPECT_LT(3 * within, between);
  // The same points with shuffled labels do not look separated: the check can fail.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  auto shuffled = labels.index_select(0, at::randperm(labels.size(0), gen, torch::kLong));
  EXPECT_LT(nearest_neighbour_agreement(r.embedding, shuffled), 0.5);
  // Repeatable from the seed.
  auto again = tsne(x, o);
  EXPECT_TRUE(torch::allclose(again.embedding, r.embedding));
}

TEST(Tsne, SmallInputsAndBadInputs) {
  auto [x, labels] = clusters(2, 3, 4, 10.0, 2);
  TsneOptions o;
  o.iterations = 200;
  auto r = tsne(x, o);  // perplexity is cut to (N - 1) / 3
  EXPECT_NEAR(r.perplexity, 5.0 / 3.0, 1e-12);
  EXPECT_TRUE(torch::isfinite(r.embedding).all().item<bool>());
  EXPECT_THROW(tsne(torch::zeros({1, 3})), Error);
  EXPECT_THROW(tsne(torch::full({4, 2}, NAN)), Error);
}

}  // namespace
}  // namespace crmt
