#include "crmt/certify/certificate.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "crmt/core/error.h"
#include "crmt/core/precision.h"
#include "crmt/models/eval_mode_guard.h"

namespace crmt {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

nlohmann::json numbers(const std::vector<double>& v) {
  auto out = nlohmann::json::array();
  for (double x : v) out.push_back(json_number(x));
  return out;
}

nlohmann::json tensor_json(const at::Tensor& t) {
  auto c = t.to(torch::kDouble).cpu().contiguous();
  if (c.dim() == 0) return json_number(c.item<double>());
  auto out = nlohmann::json::array();
  for (int64_t i = 0; i < c.size(0); ++i) out.push_back(tensor_json(c[i]));
  return out;
}

}  // namespace

nlohmann::json json_number(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return value;
}

std::string format_number(double value, int precision) {
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  if (std::isnan(value)) return "nan";
  return fmt::format("{:.{}g}", value, precision);
}

at::Tensor vulnerability_indicators(MultiModalNet& net, const LipschitzEstimate& lipschitz) {
  const auto M = static_cast<int64_t>(net->num_modalities());
  const int64_t K = net->num_classes();
  if (!lipschitz.tau.defined() || lipschitz.tau.size(0) != M || lipschitz.tau.size(1) != K)
    fail("Lipschitz estimate has shape [{}] but the model has {} modalities and {} classes",
         lipschitz.tau.defined() ? fmt::format("{}", fmt::join(lipschitz.tau.sizes(), ",")) : "", M, K);
  if (lipschitz.pairwise.defined() &&
      (lipschitz.pairwise.dim() != 3 || lipschitz.pairwise.size(0) != M || lipschitz.pairwise.size(1) != K ||
       lipschitz.pairwise.size(2) != K))
    fail("pairwise Lipschitz constants have shape [{}] but the model has {} modalities and {} classes",
         fmt::format("{}", fmt::join(lipschitz.pairwise.sizes(), ",")), M, K);
  torch::NoGradGuard no_grad;
  // The head knows how each modality enters its margins (Theorem 3.3 / 3.5): ask it per modality.
  auto eta = torch::zeros({M, K, K}, torch::kDouble);
  for (int64_t m = 0; m < M; ++m) {
    const auto pairwise = lipschitz.pairwise.defined() ? lipschitz.pairwise[m] : at::Tensor();
    eta[m].copy_(net->head().vulnerability(static_cast<size_t>(m), lipschitz.tau[m], pairwise));
  }
  return eta;
}

double Certificate::eta_ratio(size_t a, size_t b) const {
  const double num = mean_eta.at(a), den = mean_eta.at(b);
  if (den == 0) return num == 0 ? 1.0 : kInf;
  return num / den;
}

double bound_ratio(double numerator, double denominator) {
  if (!(numerator > 0)) return 0.0;
  if (!(denominator > 0)) return kInf;
  return numerator / denominator;
}

Certificate certify(MultiModalNet& net, const MultiModalDataset& data, const LipschitzEstimate& lipschitz,
                    const std::vector<double>& radii, int64_t batch_size) {
  const Fp32Scope fp32;  // a radius computed in half precision is not a certificate
  net->require_late_fusion("a certified radius");
  Certificate cert;
  cert.lipschitz = lipschitz;
  cert.head_kind = net->head().kind();
  cert.num_classes = net->num_classes();
  for (const auto& s : net->specs()) cert.modalities.push_back(s.name);
  cert.eta = vulnerability_indicators(net, lipschitz);
  const auto M = static_cast<int64_t>(cert.modalities.size());
  // A NaN constant would print NaN radii; an infinite one certifies nothing it could be trusted with.
  for (int64_t m = 0; m < M; ++m)
    if (!torch::isfinite(cert.eta[m]).all().item<bool>())
      fail("certificate: the {} Lipschitz constants of modality '{}' are not finite (NaN or infinity); "
           "no radius can be computed from them",
           lipschitz.kind, cert.modalities[static_cast<size_t>(m)]);
  const int64_t K = cert.num_classes;

  auto eta = cert.eta.contiguous();
  auto eta_a = eta.accessor<double, 3>();
  // Joint denominators sqrt(sum_m eta[m][y][j]^2) [K, K].
  auto joint = eta.pow(2).sum(0).sqrt().contiguous();
  auto joint_a = joint.accessor<double, 2>();

  EvalModeGuard eval(*net);
  torch::NoGradGuard no_grad;
  const int64_t n = data.size();
  const int64_t bs = std::max<int64_t>(1, batch_size);
  for (int64_t start = 0; start < n; start += bs) {
    const int64_t b = std::min(bs, n - start);
    auto batch = data.batch(torch::arange(start, start + b, torch::kLong));
    auto logits = net->forward(batch).logits.to(torch::kDouble).cpu().contiguous();
    if (!torch::isfinite(logits).all().item<bool>())
      fail("{}: the model's logits are not finite on samples {}..{} (NaN or infinite weights or inputs?); "
           "no margin, no radius",
           data.source, start, start + b - 1);
    auto labels = batch.labels.to(torch::kLong).cpu().contiguous();
    auto h = logits.accessor<double, 2>();
    auto y = labels.accessor<int64_t, 1>();
    for (int64_t i = 0; i < b; ++i) {
      SampleCertificate s;
      s.label = y[i];
      int64_t p = 0;
      for (int64_t k = 1; k < K; ++k)
        if (h[i][k] > h[i][p]) p = k;
      s.prediction = p;
      s.radius = kInf;
      s.unimodal_radius.assign(static_cast<size_t>(M), kInf);
      s.runner_up = p == 0 ? 1 : 0;
      s.nearest_class = s.runner_up;
      for (int64_t j = 0; j < K; ++j) {
        if (j == p) continue;
        if (h[i][j] > h[i][s.runner_up]) s.runner_up = j;
        const double margin = h[i][p] - h[i][j];
        const double r = bound_ratio(margin, joint_a[p][j]);
        if (r < s.radius) {
          s.radius = r;
          s.nearest_class = j;
        }
        for (int64_t m = 0; m < M; ++m)
          s.unimodal_radius[m] = std::min(s.unimodal_radius[m], bound_ratio(margin, eta_a[m][p][j]));
      }
      s.runner_up_radius = bound_ratio(h[i][p] - h[i][s.runner_up], joint_a[p][s.runner_up]);
      cert.samples.push_back(std::move(s));
    }
  }
  summarize(cert, radii);
  return cert;
}

double certified_accuracy_at(const Certificate& cert, double r) {
  if (cert.samples.empty()) return 0.0;
  int64_t count = 0;
  for (const auto& s : cert.samples) count += s.correct() && s.radius >= r;
  return static_cast<double>(count) / static_cast<double>(cert.samples.size());
}

void summarize(Certificate& cert, const std::vector<double>& radii) {
  const size_t M = cert.modalities.size();
  const auto n = static_cast<double>(std::max<size_t>(1, cert.samples.size()));
  cert.radii = radii;
  cert.certified_accuracy.clear();
  cert.unimodal_certified.assign(M, {});
  for (double r : radii) {
    cert.certified_accuracy.push_back(certified_accuracy_at(cert, r));
    for (size_t m = 0; m < M; ++m) {
      int64_t count = 0;
      for (const auto& s : cert.samples) count += s.correct() && s.unimodal_radius[m] >= r;
      cert.unimodal_certified[m].push_back(static_cast<double>(count) / n);
    }
  }
  std::vector<double> correct_radii;
  for (const auto& s : cert.samples)
    if (s.correct()) correct_radii.push_back(s.radius);
  cert.clean_accuracy = cert.samples.empty() ? 0.0 : static_cast<double>(correct_radii.size()) / n;
  cert.mean_radius = 0;
  cert.median_radius = 0;
  if (!correct_radii.empty()) {
    double sum = 0;
    for (double r : correct_radii) sum += r;
    cert.mean_radius = sum / static_cast<double>(correct_radii.size());
    std::sort(correct_radii.begin(), correct_radii.end());
    const size_t c = correct_radii.size();
    cert.median_radius = c % 2 ? correct_radii[c / 2] : 0.5 * (correct_radii[c / 2 - 1] + correct_radii[c / 2]);
  }
  cert.mean_eta.assign(M, 0.0);
  const int64_t K = cert.num_classes;
  if (cert.eta.defined() && K > 1) {
    for (size_t m = 0; m < M; ++m)
      cert.mean_eta[m] = cert.eta[static_cast<int64_t>(m)].sum().item<double>() / static_cast<double>(K * (K - 1));
  }
  cert.preferred_modality = 0;
  for (size_t m = 1; m < M; ++m)
    if (cert.mean_eta[m] > cert.mean_eta[cert.preferred_modality]) cert.preferred_modality = m;
}

std::string bound_name(const Certificate& cert) {
  return cert.bound == "crown" ? cert.bound : "lipschitz-" + cert.lipschitz.kind;
}

bool bound_is_sound(const Certificate& cert) { return cert.bound == "crown" || cert.lipschitz.guaranteed(); }

nlohmann::json certificate_json(const Certificate& cert, bool per_sample) {
  nlohmann::json j;
  const size_t M = cert.modalities.size();
  j["bound"] = bound_name(cert);
  j["sound"] = bound_is_sound(cert);
  j["lipschitz"] = {{"kind", cert.lipschitz.kind},
                    {"samples", cert.lipschitz.samples},
                    {"tau", tensor_json(cert.lipschitz.tau)},
                    {"pairwise", tensor_json(cert.lipschitz.pairwise)}};
  j["head"] = cert.head_kind;
  j["modalities"] = cert.modalities;
  j["num_classes"] = cert.num_classes;
  j["samples"] = cert.samples.size();
  j["clean_accuracy"] = json_number(cert.clean_accuracy);
  j["radii"] = numbers(cert.radii);
  j["certified_accuracy"] = numbers(cert.certified_accuracy);
  j["mean_radius"] = json_number(cert.mean_radius);
  j["median_radius"] = json_number(cert.median_radius);
  j["eta"] = tensor_json(cert.eta);
  j["mean_eta"] = numbers(cert.mean_eta);
  auto ratio = nlohmann::json::array();
  auto ratio_first = nlohmann::json::array();
  for (size_t a = 0; a < M; ++a) {
    std::vector<double> row;
    for (size_t b = 0; b < M; ++b) row.push_back(cert.eta_ratio(a, b));
    ratio.push_back(numbers(row));
    ratio_first.push_back(json_number(cert.eta_ratio(a, 0)));
  }
  j["eta_ratio"] = ratio;                 // [a][b] = mean_eta[a] / mean_eta[b]
  j["eta_ratio_to_first"] = ratio_first;  // mean_eta[m] / mean_eta[0]
  j["preferred_modality"] = M ? cert.modalities[cert.preferred_modality] : "";
  auto uni = nlohmann::json::object();
  for (size_t m = 0; m < M; ++m) uni[cert.modalities[m]] = numbers(cert.unimodal_certified[m]);
  j["unimodal_certified_accuracy"] = uni;
  if (per_sample) {
    auto rows = nlohmann::json::array();
    for (const auto& s : cert.samples)
      rows.push_back({{"label", s.label},
                      {"prediction", s.prediction},
                      {"runner_up", s.runner_up},
                      {"nearest_class", s.nearest_class},
                      {"radius", json_number(s.radius)},
                      {"runner_up_radius", json_number(s.runner_up_radius)},
                      {"unimodal_radius", numbers(s.unimodal_radius)}});
    j["per_sample"] = rows;
  }
  return j;
}

Table certified_accuracy_table(const Certificate& cert) {
  Table t;
  t.header = {"radius", "certified acc", "bound"};
  const std::string kind = cert.bound == "lipschitz" && cert.lipschitz.kind == "empirical"
                               ? fmt::format("lipschitz-empirical ({} samples)", cert.lipschitz.samples)
                               : bound_name(cert);
  for (size_t i = 0; i < cert.radii.size(); ++i)
    t.rows.push_back({format_number(cert.radii[i]), fmt::format("{:.4f}", cert.certified_accuracy[i]), kind});
  return t;
}

Table vulnerability_table(const Certificate& cert) {
  Table t;
  t.header = {"modality", "mean eta", "eta / eta(" + (cert.modalities.empty() ? std::string() : cert.modalities[0]) + ")",
              "mean tau"};
  for (double r : cert.radii) t.header.push_back("uni-modal safe @" + format_number(r));
  for (size_t m = 0; m < cert.modalities.size(); ++m) {
    std::string name = cert.modalities[m];
    if (m == cert.preferred_modality && cert.modalities.size() > 1) name += " (preferred)";
    const double mean_tau = cert.lipschitz.tau[static_cast<int64_t>(m)].mean().item<double>();
    std::vector<std::string> row{name, format_number(cert.mean_eta[m]), format_number(cert.eta_ratio(m, 0)),
                                 format_number(mean_tau)};
    for (double v : cert.unimodal_certified[m]) row.push_back(fmt::format("{:.4f}", v));
    t.rows.push_back(row);
  }
  return t;
}

std::string certificate_report(const Certificate& cert) {
  std::string out = fmt::format(
      "certified l2 robustness of {} samples ({} head, radii by {}{}): clean accuracy {:.4f}, "
      "radius over correct samples mean {} median {}\n",
      cert.samples.size(), cert.head_kind, bound_name(cert), bound_is_sound(cert) ? ", sound" : ", an estimate",
      cert.clean_accuracy, format_number(cert.mean_radius), format_number(cert.median_radius));
  out += certified_accuracy_table(cert).to_text();
  out += fmt::format(
      "\nvulnerability indicators eta ({} Lipschitz constants of the fused margin per modality; larger = more "
      "vulnerable)\n",
      cert.lipschitz.kind);
  out += vulnerability_table(cert).to_text();
  if (cert.modalities.size() > 1)
    out += fmt::format("preferred (most vulnerable) modality: {} — uni-modal attacks on it are the most effective\n",
                       cert.modalities[cert.preferred_modality]);
  if (!bound_is_sound(cert))
    out += "note: empirical Lipschitz constants are the largest observed gradients, not upper bounds; the radii are "
           "estimates, not guarantees (run with --audit or --lipschitz guaranteed)\n";
  return out;
}

Table per_sample_table(const Certificate& cert) {
  Table t;
  t.header = {"index", "label", "prediction", "correct", "runner_up", "radius", "nearest_class", "runner_up_radius"};
  for (const auto& m : cert.modalities) t.header.push_back("unimodal_radius_" + m);
  for (size_t i = 0; i < cert.samples.size(); ++i) {
    const auto& s = cert.samples[i];
    std::vector<std::string> row{std::to_string(i),
                                 std::to_string(s.label),
                                 std::to_string(s.prediction),
                                 s.correct() ? "1" : "0",
                                 std::to_string(s.runner_up),
                                 format_number(s.radius, 8),
                                 std::to_string(s.nearest_class),
                                 format_number(s.runner_up_radius, 8)};
    for (double r : s.unimodal_radius) row.push_back(format_number(r, 8));
    t.rows.push_back(row);
  }
  return t;
}

}  // namespace crmt
