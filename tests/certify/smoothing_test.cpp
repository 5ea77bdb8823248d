// Randomized smoothing (certify/smoothing/) against closed forms: exact binomial tails, the normal
// CDF, and linear models, whose smoothed class probabilities are Phi(margin / s) with s the norm of
// the noise projected on the margin's gradient.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "crmt/certify/smoothing/confidence.h"
#include "crmt/certify/smoothing/smoothed_classifier.h"
#include "crmt/certify/smoothing/smoothing_certificate.h"
#include "crmt/core/config.h"
#include "crmt/data/synthetic.h"
#include "crmt/models/model_factory.h"
#include "test_util.h"

namespace crmt {
namespace {

using namespace smoothing;

// P(X >= k) for X ~ Binomial(n, p), summed term by term in long double from log-gamma: the oracle.
double binomial_upper_tail(int64_t k, int64_t n, double p) {
  long double sum = 0;
  for (int64_t i = k; i <= n; ++i)
    sum += std::exp(std::lgamma(n + 1.0L) - std::lgamma(i + 1.0L) - std::lgamma(n - i + 1.0L) + i * std::log((long double)p) +
                    (n - i) * std::log1p(-(long double)p));
  return static_cast<double>(sum);
}

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

TEST(Smoothing, ClopperPearsonLowerBoundLeavesExactlyAlphaAboveIt) {
  for (auto [k, n] : std::vector<std::pair<int64_t, int64_t>>{{1, 10}, {7, 10}, {95, 100}, {990, 1000}, {4000, 5000}}) {
    for (double alpha : {0.05, 0.001}) {
      const double lower = clopper_pearson_lower(k, n, alpha);
      // The defining equation of the one-sided exact bound: P(X >= k | p = lower) = alpha.
      EXPECT_NEAR(binomial_upper_tail(k, n, lower), alpha, 1e-6 * alpha + 1e-12) << k << "/" << n;
      EXPECT_LT(lower, static_cast<double>(k) / n);
    }
  }
  // All successes: the bound solves p^n = alpha.
  EXPECT_NEAR(clopper_pearson_lower(100000, 100000, 0.001), std::pow(0.001, 1e-5), 1e-12);
  EXPECT_EQ(clopper_pearson_lower(0, 50, 0.001), 0.0);
}

TEST(Smoothing, NormalQuantileInvertsTheCdf) {
  for (double p : {1e-9, 0.001, 0.3, 0.5, 0.9, 0.999931}) EXPECT_NEAR(normal_cdf(normal_quantile(p)), p, 1e-12 + 1e-10 * p);
  EXPECT_TRUE(std::isinf(normal_quantile(1.0)));
}

TEST(Smoothing, BinomialTestAgainstOneHalfMatchesAHandCount) {
  // 9 of 10: P(X >= 9) = (10 + 1) / 1024, two-sided twice that.
  EXPECT_NEAR(binomial_test_half(9, 10), 22.0 / 1024.0, 1e-14);
  EXPECT_NEAR(binomial_test_half(1, 10), 22.0 / 1024.0, 1e-14);
  EXPECT_DOUBLE_EQ(binomial_test_half(5, 10), 1.0);
}

// Two classes, linear encoders, concat head: the margin h0 - h1 is affine in the inputs.
struct LinearCase {
  MultiModalDataset data;
  MultiModalNet net;
};

LinearCase linear_case() {
  SyntheticOptions o;
  o.samples = 40;
  o.classes = 2;
  o.dims = {3, 2};
  o.separation = 1.0;
  LinearCase c{make_synthetic(o), nullptr};
  torch::manual_seed(3);
  c.net = build_model(Config::load("", {"model.encoder=linear", "model.head=concat", "model.embed_dim=4"}),
                      c.data.specs, 2);
  c.net->eval();
  return c;
}

std::vector<at::Tensor> one_sample(MultiModalNet& net, const MultiModalDataset& data, int64_t i) {
  return net->align(data.batch(torch::tensor({i}, torch::kLong)));
}

// The margin h0 - h1 at x and its gradient per modality, by autograd (exact for an affine map).
double margin_and_gradient(MultiModalNet& net, const std::vector<at::Tensor>& x, std::vector<double>& gradient_norm) {
  std::vector<at::Tensor> leaves;
  for (const auto& t : x) leaves.push_back(t.detach().clone().requires_grad_(true));
  auto h = net->forward(leaves).logits[0];
  auto margin = h[0] - h[1];
  margin.backward();
  gradient_norm.clear();
  for (const auto& l : leaves) gradient_norm.push_back(l.grad().norm().item<double>());
  return margin.item<double>();
}

TEST(Smoothing, LinearModelMatchesTheClosedForm) {
  auto c = linear_case();
  SmoothingOptions options;
  options.noise = parse_modality_noise("m0=0.7,m1=0.4", {"m0", "m1"}, "test", true);
  options.samples_select = 100;
  options.samples_estimate = 20000;
  options.alpha = 1e-4;
  options.noise_batch = 4096;
  ASSERT_EQ(c.net->specs()[0].name, "m0");
  for (int64_t i = 0; i < 12; ++i) {
    const auto x = one_sample(c.net, c.data, i);
    std::vector<double> g;
    const double margin = margin_and_gradient(c.net, x, g);
    const double s = std::hypot(0.7 * g[0], 0.4 * g[1]);  // std of the margin under the noise
    const int64_t top = margin > 0 ? 0 : 1;
    const double p_top = normal_cdf(std::abs(margin) / s);
    torch::InferenceMode guard;
    const auto cert = certify_one(c.net, x, options, i);
    const double p_hat = static_cast<double>(cert.count) / options.samples_estimate;
    // The count estimates the candidate's probability: the true value lies inside its confidence
    // interval (the lower bound below it; the upper bound, by symmetry, above it).
    const double p_cand = cert.candidate == top ? p_top : 1 - p_top;
    EXPECT_LE(cert.p_lower, p_cand) << "sample " << i;
    EXPECT_GE(1 - clopper_pearson_lower(options.samples_estimate - cert.count, options.samples_estimate, options.alpha),
              p_cand)
        << "sample " << i;
    EXPECT_NEAR(p_hat, p_cand, 5 * std::sqrt(p_cand * (1 - p_cand) / options.samples_estimate) + 1e-9);
    if (!cert.abstained()) {
      EXPECT_EQ(cert.prediction, top);
      // Joint radius: min sigma * Phi^-1(p_lower) is below the closed form min sigma * |margin| / s,
      // which is below the exact distance to the boundary |margin| / ||gradient||.
      const double radius = 0.4 * cert.quantile;
      EXPECT_LE(radius, 0.4 * std::abs(margin) / s + 1e-9);
      EXPECT_LE(radius, std::abs(margin) / std::hypot(g[0], g[1]) + 1e-9);
      // And not far below it: n = 20000 pins the count down to a few standard deviations (plus a few
      // counts where p is near 1), and the bound of such a count (checked above) is the floor.
      const double n = static_cast<double>(options.samples_estimate);
      const auto low_count = static_cast<int64_t>(std::floor(n * p_top - 8 * std::sqrt(n * p_top * (1 - p_top)) - 4));
      EXPECT_GE(radius, 0.4 * normal_quantile(std::max(0.5, clopper_pearson_lower(std::max<int64_t>(low_count, 1),
                                                                                  options.samples_estimate,
                                                                                  options.alpha))) -
                            1e-9)
          << "sample " << i;
    }
  }
}

// Over many certifications at level alpha the lower bound exceeds the true probability in at most
// an alpha share of them: the count of such failures must be a plausible draw of Binomial(R, alpha).
TEST(Smoothing, LowerBoundsCoverTheTrueProbabilityAtLevelAlpha) {
  auto c = linear_case();
  const auto x = one_sample(c.net, c.data, 0);
  std::vector<double> g;
  const double margin = margin_and_gradient(c.net, x, g);
  SmoothingOptions options;
  options.noise = parse_modality_noise("1.0", {"m0", "m1"}, "test", true);
  // The noise puts the true probability near 0.8, where the bound is informative.
  const double s = std::hypot(g[0], g[1]);
  const double scale = std::abs(margin) / (s * normal_quantile(0.8));
  options.noise.sigma = {scale, scale};
  const double p_true = normal_cdf(std::abs(margin) / (scale * s));
  options.samples_select = 10;
  options.samples_estimate = 100;
  options.alpha = 0.05;
  const int64_t repeats = 600;
  int64_t failures = 0;
  double lower_sum = 0;
  torch::InferenceMode guard;
  for (int64_t r = 0; r < repeats; ++r) {
    options.seed = static_cast<uint64_t>(r);
    const auto cert = certify_one(c.net, x, options, 0);
    const double p_cand = cert.candidate == (margin > 0 ? 0 : 1) ? p_true : 1 - p_true;
    failures += cert.p_lower > p_cand;
    lower_sum += cert.candidate == (margin > 0 ? 0 : 1) ? cert.p_lower : 0.0;
  }
  // Clopper-Pearson is conservative: failures ~ Binomial(R, q) with q <= alpha. Reject only what a
  // level-1e-4 test would: P(Binomial(R, alpha) >= failures) must exceed 1e-4.
  EXPECT_GT(binomial_upper_tail(failures, repeats, options.alpha), 1e-4) << failures << " failures of " << repeats;
  // Not vacuous either: with n = 100 the bound sits about 0.07 below the truth on average.
  EXPECT_GT(lower_sum / repeats, p_true - 0.12);
}

TEST(Smoothing, AbstainsWhenTheTopTwoClassesTie) {
  auto c = linear_case();
  // Move sample 0 onto the boundary along the margin's gradient: p_A = 1/2 exactly.
  auto x = one_sample(c.net, c.data, 0);
  std::vector<double> g;
  const double margin = margin_and_gradient(c.net, x, g);
  std::vector<at::Tensor> leaves;
  for (const auto& t : x) leaves.push_back(t.detach().clone().requires_grad_(true));
  auto h = c.net->forward(leaves).logits[0];
  (h[0] - h[1]).backward();
  const double g2 = g[0] * g[0] + g[1] * g[1];
  std::vector<at::Tensor> on_boundary;
  for (auto& l : leaves) on_boundary.push_back((l - margin / g2 * l.grad()).detach());
  {
    std::vector<double> g_check;
    EXPECT_NEAR(margin_and_gradient(c.net, on_boundary, g_check), 0.0, 1e-5);
  }
  SmoothingOptions options;
  options.noise = parse_modality_noise("0.5", {"m0", "m1"}, "test", true);
  options.samples_estimate = 10000;
  torch::InferenceMode guard;
  for (uint64_t seed = 0; seed < 5; ++seed) {
    options.seed = seed;
    EXPECT_TRUE(certify_one(c.net, on_boundary, options, 0).abstained()) << "seed " << seed;
    Batch batch = c.data.batch(torch::tensor({0}, torch::kLong));
    for (size_t m = 0; m < 2; ++m) batch.inputs[m] = on_boundary[m];
    EXPECT_EQ(predict_smoothed(c.net, batch, options)[0].item<int64_t>(), -1) << "seed " << seed;
  }
}

TEST(Smoothing, SameSeedGivesTheSameCertificateOnAnyThreadCount) {
  auto c = linear_case();
  SmoothingOptions options;
  options.noise = parse_modality_noise("0.5", {"m0", "m1"}, "test", true);
  options.samples_estimate = 5000;
  options.noise_batch = 777;
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const auto one = certify_smoothing(c.net, c.data, {0, 0.5}, options);
  at::set_num_threads(2);
  const auto two = certify_smoothing(c.net, c.data, {0, 0.5}, options);
  at::set_num_threads(threads);
  ASSERT_EQ(one.samples.size(), two.samples.size());
  for (size_t i = 0; i < one.samples.size(); ++i) {
    EXPECT_EQ(one.samples[i].certificate.count, two.samples[i].certificate.count) << i;
    EXPECT_EQ(one.samples[i].certificate.prediction, two.samples[i].certificate.prediction) << i;
  }
}

TEST(Smoothing, SummaryCountsCertifiedCorrectSamplesPerRadiusAndModality) {
  SmoothingCertificate cert;
  cert.modalities = {"a", "b"};
  cert.options.noise = parse_modality_noise("a=1,b=0.5", {"a", "b"}, "test", true);
  auto add = [&](int64_t label, int64_t prediction, double quantile) {
    SmoothingSample s;
    s.label = label;
    s.certificate.prediction = prediction;
    s.certificate.quantile = quantile;
    if (prediction >= 0) {
      s.unimodal_radius = {1.0 * quantile, 0.5 * quantile};
      s.radius = 0.5 * quantile;
    } else {
      s.unimodal_radius = {0, 0};
    }
    cert.samples.push_back(s);
  };
  add(0, 0, 2.0);   // joint 1.0, a 2.0, b 1.0
  add(1, 1, 0.4);   // joint 0.2, a 0.4, b 0.2
  add(2, 0, 3.0);   // wrong
  add(3, -1, 0.0);  // abstained
  summarize(cert, {0, 0.5, 1.0});
  EXPECT_DOUBLE_EQ(cert.clean_accuracy, 0.5);
  EXPECT_DOUBLE_EQ(cert.abstain_rate, 0.25);
  EXPECT_EQ(cert.certified_accuracy, (std::vector<double>{0.5, 0.25, 0.25}));
  EXPECT_EQ(cert.unimodal_certified[0], (std::vector<double>{0.5, 0.25, 0.25}));
  EXPECT_EQ(cert.unimodal_certified[1], (std::vector<double>{0.5, 0.25, 0.25}));
  EXPECT_DOUBLE_EQ(cert.median_radius, 0.6);
  EXPECT_DOUBLE_EQ(cert.unimodal_median_radius[0], 1.2);
  summarize(cert, {0, 0.3});
  EXPECT_EQ(cert.unimodal_certified[0], (std::vector<double>{0.5, 0.5}));
  EXPECT_EQ(cert.unimodal_certified[1], (std::vector<double>{0.5, 0.25}));
  EXPECT_EQ(cert.weak_modality, 1);
}

TEST(Smoothing, BadSettingsAreOneLineErrors) {
  const std::vector<std::string> mods{"audio", "visual"};
  EXPECT_NE(test::error_of([&] { parse_modality_noise("0", mods, "--sigma", true); }).find("needs a sigma > 0"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { parse_modality_noise("-1", mods, "--sigma", true); }).find(">= 0"), std::string::npos);
  EXPECT_NE(test::error_of([&] { parse_modality_noise("nan", mods, "--sigma", true); }).find("finite"), std::string::npos);
  EXPECT_NE(test::error_of([&] { parse_modality_noise("inf", mods, "--sigma", true); }).find("finite"), std::string::npos);
  EXPECT_NE(test::error_of([&] { parse_modality_noise("audio=0.5,speech=1", mods, "--sigma", true); })
                .find("no modality 'speech'"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { parse_modality_noise("audio=0.5", mods, "--sigma", true); }).find("'visual'"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { parse_modality_noise("abc", mods, "--sigma", true); }).find("not a number"),
            std::string::npos);
  SmoothingOptions o;
  o.noise = parse_modality_noise("0.5", mods, "--sigma", true);
  o.samples_select = 1000;
  o.samples_estimate = 100;
  EXPECT_NE(test::error_of([&] { o.validate(mods); }).find("must not exceed"), std::string::npos);
  o.samples_select = 10;
  for (double alpha : {0.0, 1.0, -0.5, 2.0, std::nan("")}) {
    o.alpha = alpha;
    EXPECT_NE(test::error_of([&] { o.validate(mods); }).find("--alpha"), std::string::npos) << alpha;
  }
  o.alpha = 0.001;
  EXPECT_EQ(test::error_of([&] { o.validate(mods); }), "");
  EXPECT_NE(test::error_of([&] { o.validate({"visual", "audio"}); }).find("modalities"), std::string::npos);
}

TEST(Smoothing, CpuAndCudaAgreeInDistribution) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device: the CPU/CUDA comparison runs on a GPU machine";
  auto c = linear_case();
  SmoothingOptions options;
  options.noise = parse_modality_noise("0.8", {"m0", "m1"}, "test", true);
  options.samples_estimate = 20000;
  const auto x = one_sample(c.net, c.data, 1);
  torch::InferenceMode guard;
  const auto cpu = certify_one(c.net, x, options, 1);
  c.net->to(torch::kCUDA);
  std::vector<at::Tensor> xc;
  for (const auto& t : x) xc.push_back(t.to(torch::kCUDA));
  const auto gpu = certify_one(c.net, xc, options, 1);
  // Different generators, same distribution: two binomial counts of n = 20000 within 6 joint stds.
  const double p = (cpu.count + gpu.count) / 40000.0;
  EXPECT_EQ(cpu.candidate, gpu.candidate);
  EXPECT_NEAR(cpu.count / 20000.0, gpu.count / 20000.0, 6 * std::sqrt(2 * p * (1 - p) / 20000.0) + 1e-9);
}

}  // namespace
}  // namespace crmt

namespace crmt {
namespace {

// Smoothing needs no layer rules: a joint transformer (no late fusion, refused by the Lipschitz and
// CROWN certificates) is certified like any model, and every noisy copy is counted once.
TEST(Smoothing, CertifiesAJointTransformer) {
  const auto data = test::image_data(6, 3, 1, 0.5, 8);
  torch::manual_seed(0);
  auto net = build_model(Config::load("", {"model.fusion=transformer", "model.transformer.dim=16",
                                           "model.transformer.depth=1", "model.transformer.heads=2",
                                           "model.transformer.patch=4", "model.embed_dim=16"}),
                         data.specs, 3);
  ASSERT_FALSE(net->late_fusion());
  smoothing::SmoothingOptions options;
  options.noise = parse_modality_noise("0.25", data.modality_names(), "test", true);
  options.samples_select = 20;
  options.samples_estimate = 300;
  options.noise_batch = 128;
  const auto cert = smoothing::certify_smoothing(net, data, {0, 0.1}, options);
  ASSERT_EQ(cert.samples.size(), 6u);
  torch::InferenceMode guard;
  const auto x = net->align(data.batch(torch::tensor({0}, torch::kLong)));
  const auto counts = smoothing::noisy_prediction_counts(net, x, options.noise, 300, 128);
  EXPECT_EQ(counts.sum().item<int64_t>(), 300);
  for (const auto& s : cert.samples) {
    EXPECT_LE(s.certificate.count, 300);
    EXPECT_GE(s.certificate.p_lower, 0.0);
  }
}

}  // namespace
}  // namespace crmt
