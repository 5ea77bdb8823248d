#include "crmt/certify/smoothing/smoothing_certificate.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>

#include <nlohmann/json.hpp>

#include "crmt/certify/certificate.h"
#include "crmt/core/error.h"
#include "crmt/core/precision.h"
#include "crmt/core/progress.h"
#include "crmt/models/eval_mode_guard.h"

namespace crmt::smoothing {

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t c = v.size();
  return c % 2 ? v[c / 2] : 0.5 * (v[c / 2 - 1] + v[c / 2]);
}

nlohmann::json numbers(const std::vector<double>& v) {
  auto out = nlohmann::json::array();
  for (double x : v) out.push_back(json_number(x));
  return out;
}

}  // namespace

SmoothingCertificate certify_smoothing(MultiModalNet& net, const MultiModalDataset& data, const std::vector<double>& radii,
                                       const SmoothingOptions& options, bool show_progress, int64_t batch_size) {
  SmoothingCertificate cert;
  for (const auto& s : net->specs()) cert.modalities.push_back(s.name);
  options.validate(cert.modalities);
  if (data.size() == 0) fail("{}: no samples to certify", data.source);
  const Fp32Scope fp32;
  cert.options = options;
  cert.num_classes = net->num_classes();
  const auto M = cert.modalities.size();
  EvalModeGuard eval(*net);
  torch::InferenceMode no_grad;
  const auto start = std::chrono::steady_clock::now();
  const int64_t n = data.size();
  const int64_t bs = std::max<int64_t>(1, batch_size);
  ProgressBar bar(fmt::format("smoothing certify (n = {})", options.samples_estimate), n, show_progress);
  int64_t certified_correct = 0;
  for (int64_t first = 0; first < n; first += bs) {
    const int64_t b = std::min(bs, n - first);
    const auto batch = data.batch(torch::arange(first, first + b, torch::kLong));
    if (batch.size() != b) fail("{}: samples {}..{} could not all be read", data.source, first, first + b - 1);
    const auto inputs = net->align(batch);
    const auto labels = batch.labels.to(torch::kLong).cpu();
    for (int64_t i = 0; i < b; ++i) {
      std::vector<at::Tensor> one;
      for (const auto& x : inputs) one.push_back(x.slice(0, i, i + 1));
      SmoothingSample s;
      s.label = labels[i].item<int64_t>();
      s.certificate = certify_one(net, one, options, first + i);
      s.unimodal_radius.assign(M, 0.0);
      if (!s.certificate.abstained()) {
        for (size_t m = 0; m < M; ++m) s.unimodal_radius[m] = options.noise.sigma[m] * s.certificate.quantile;
        s.radius = options.noise.min_sigma() * s.certificate.quantile;
      }
      certified_correct += s.correct();
      cert.samples.push_back(std::move(s));
      bar.update(first + i + 1, fmt::format("certified correct {:.1f}%",
                                            100.0 * certified_correct / static_cast<double>(cert.samples.size())));
    }
  }
  bar.finish();
  cert.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  summarize(cert, radii);
  return cert;
}

void summarize(SmoothingCertificate& cert, const std::vector<double>& radii) {
  const size_t M = cert.modalities.size();
  const double n = static_cast<double>(std::max<size_t>(1, cert.samples.size()));
  cert.radii = radii;
  cert.certified_accuracy.clear();
  cert.unimodal_certified.assign(M, {});
  for (double r : radii) {
    int64_t joint = 0;
    std::vector<int64_t> uni(M, 0);
    for (const auto& s : cert.samples) {
      if (!s.correct()) continue;
      joint += s.radius >= r;
      for (size_t m = 0; m < M; ++m) uni[m] += s.unimodal_radius[m] >= r;
    }
    cert.certified_accuracy.push_back(static_cast<double>(joint) / n);
    for (size_t m = 0; m < M; ++m) cert.unimodal_certified[m].push_back(static_cast<double>(uni[m]) / n);
  }
  std::vector<double> joint_radii;
  std::vector<std::vector<double>> uni_radii(M);
  int64_t abstained = 0;
  for (const auto& s : cert.samples) {
    abstained += s.certificate.abstained();
    if (!s.correct()) continue;
    joint_radii.push_back(s.radius);
    for (size_t m = 0; m < M; ++m) uni_radii[m].push_back(s.unimodal_radius[m]);
  }
  cert.clean_accuracy = cert.samples.empty() ? 0 : static_cast<double>(joint_radii.size()) / n;
  cert.abstain_rate = cert.samples.empty() ? 0 : static_cast<double>(abstained) / n;
  cert.mean_radius = 0;
  for (double r : joint_radii) cert.mean_radius += r / static_cast<double>(joint_radii.size());
  cert.median_radius = median(joint_radii);
  cert.unimodal_median_radius.clear();
  for (size_t m = 0; m < M; ++m) cert.unimodal_median_radius.push_back(median(uni_radii[m]));
  // The weak modality: the one whose uni-modal certificates cover the fewest samples. With the same
  // sigma on every modality the uni-modal radii coincide and no modality is weaker.
  cert.weak_modality = -1;
  std::vector<double> area(M, 0.0);
  for (size_t m = 0; m < M; ++m)
    for (double v : cert.unimodal_certified[m]) area[m] += v;
  if (M > 1) {
    const auto weakest = std::min_element(area.begin(), area.end()) - area.begin();
    const bool all_equal = std::all_of(area.begin(), area.end(), [&](double a) { return a == area[weakest]; });
    if (!all_equal) cert.weak_modality = weakest;
  }
}

nlohmann::json smoothing_certificate_json(const SmoothingCertificate& cert, bool per_sample) {
  const size_t M = cert.modalities.size();
  nlohmann::json j;
  j["bound"] = "smoothing";
  j["sound"] = true;
  j["confidence"] = 1.0 - cert.options.alpha;
  j["soundness"] = fmt::format(
      "each radius holds for the smoothed classifier with probability >= {} over the Monte Carlo noise "
      "(Clopper-Pearson, alpha = {})",
      1.0 - cert.options.alpha, cert.options.alpha);
  auto sigma = nlohmann::json::object();
  for (size_t m = 0; m < M; ++m) sigma[cert.modalities[m]] = cert.options.noise.sigma[m];
  j["sigma"] = sigma;
  j["samples_select"] = cert.options.samples_select;
  j["samples_estimate"] = cert.options.samples_estimate;
  j["alpha"] = cert.options.alpha;
  j["seed"] = cert.options.seed;
  j["modalities"] = cert.modalities;
  j["num_classes"] = cert.num_classes;
  j["samples"] = cert.samples.size();
  j["clean_accuracy"] = json_number(cert.clean_accuracy);
  j["abstain_rate"] = json_number(cert.abstain_rate);
  j["radii"] = numbers(cert.radii);
  j["certified_accuracy"] = numbers(cert.certified_accuracy);
  j["mean_radius"] = json_number(cert.mean_radius);
  j["median_radius"] = json_number(cert.median_radius);
  auto uni = nlohmann::json::object(), uni_median = nlohmann::json::object();
  for (size_t m = 0; m < M; ++m) {
    uni[cert.modalities[m]] = numbers(cert.unimodal_certified[m]);
    uni_median[cert.modalities[m]] = json_number(cert.unimodal_median_radius[m]);
  }
  j["unimodal_certified_accuracy"] = uni;
  j["unimodal_median_radius"] = uni_median;
  j["weak_modality"] = cert.weak_modality >= 0 ? nlohmann::json(cert.modalities[cert.weak_modality]) : nlohmann::json();
  j["seconds"] = cert.seconds;
  j["seconds_per_sample"] = cert.seconds_per_sample();
  if (per_sample) {
    auto rows = nlohmann::json::array();
    for (const auto& s : cert.samples)
      rows.push_back({{"label", s.label},
                      {"prediction", s.certificate.prediction},
                      {"count", s.certificate.count},
                      {"p_lower", s.certificate.p_lower},
                      {"radius", json_number(s.radius)},
                      {"unimodal_radius", numbers(s.unimodal_radius)}});
    j["per_sample"] = rows;
  }
  return j;
}

std::string smoothing_certificate_report(const SmoothingCertificate& cert) {
  const auto& o = cert.options;
  std::string out = fmt::format(
      "randomized smoothing of {} samples (sigma {}; n0 = {}, n = {}; sound with probability >= {}): smoothed "
      "accuracy {:.4f}, abstained {:.4f}, joint radius over correct samples mean {} median {}; {:.3g} s per sample\n",
      cert.samples.size(), o.noise.to_string(), o.samples_select, o.samples_estimate, 1.0 - o.alpha,
      cert.clean_accuracy, cert.abstain_rate, format_number(cert.mean_radius), format_number(cert.median_radius),
      cert.seconds_per_sample());
  Table t;
  t.header = {"radius", "certified acc (joint)"};
  for (const auto& m : cert.modalities) t.header.push_back(m + " alone");
  for (size_t r = 0; r < cert.radii.size(); ++r) {
    std::vector<std::string> row{format_number(cert.radii[r]), fmt::format("{:.4f}", cert.certified_accuracy[r])};
    for (size_t m = 0; m < cert.modalities.size(); ++m) row.push_back(fmt::format("{:.4f}", cert.unimodal_certified[m][r]));
    t.rows.push_back(row);
  }
  out += t.to_text();
  if (cert.modalities.size() > 1)
    out += cert.weak_modality >= 0
               ? fmt::format("weak modality: {} (the smallest uni-modal certified accuracy)\n",
                             cert.modalities[cert.weak_modality])
               : "weak modality: none (every modality has the same sigma, so their uni-modal certificates coincide)\n";
  return out;
}

Table smoothing_per_sample_table(const SmoothingCertificate& cert) {
  Table t;
  t.header = {"index", "label", "prediction", "count", "p_lower", "radius"};
  for (const auto& m : cert.modalities) t.header.push_back("radius_" + m);
  for (size_t i = 0; i < cert.samples.size(); ++i) {
    const auto& s = cert.samples[i];
    std::vector<std::string> row{std::to_string(i), std::to_string(s.label),
                                 s.certificate.abstained() ? "abstain" : std::to_string(s.certificate.prediction),
                                 std::to_string(s.certificate.count), fmt::format("{:.6g}", s.certificate.p_lower),
                                 fmt::format("{:.6g}", s.radius)};
    for (double r : s.unimodal_radius) row.push_back(fmt::format("{:.6g}", r));
    t.rows.push_back(row);
  }
  return t;
}

}  // namespace crmt::smoothing
