#include "crmt/report/analysis.h"

#include <cmath>

#include <fmt/format.h>

#include "crmt/certify/crown/crown_certificate.h"
#include "crmt/certify/smoothing/confidence.h"
#include "crmt/certify/lipschitz.h"
#include "crmt/core/error.h"
#include "crmt/report/paper_figures.h"
#include "crmt/report/tsne.h"

namespace crmt {

namespace {

// `n` of the indices 0..size-1, drawn without replacement from a fixed seed and sorted: a
// repeatable subset whose class mix follows the split's, whatever order the split is in.
at::Tensor sample_indices(int64_t size, int64_t n, uint64_t seed) {
  if (n >= size) return torch::arange(size, torch::kLong);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return std::get<0>(at::randperm(size, gen, torch::kLong).slice(0, 0, n).sort());
}

// Accuracy of `target` at strength `eps` from a sweep, if the sweep has it.
std::optional<double> from_sweep(const Sweep& s, const std::string& target, double eps) {
  for (size_t t = 0; t < s.targets.size(); ++t)
    if (s.targets[t] == target)
      for (size_t e = 0; e < s.strengths.size(); ++e)
        if (std::abs(s.strengths[e] - eps) < 1e-12) return s.accuracy[t][e];
  return std::nullopt;
}

// What the report says about the run besides numbers: its names, config and test split.
RunAnalysis describe_run(const std::string& name, const std::string& checkpoint, const Experiment& e,
                         const MultiModalDataset& test, int pgd_steps) {
  RunAnalysis r;
  r.name = name;
  r.checkpoint = checkpoint;
  r.method = e.config.str("train.method");
  r.head = e.config.str("model.head");
  r.architecture = e.architecture;
  r.config_yaml = e.config.to_yaml();
  r.modalities = test.modality_names();
  r.class_names = test.class_names;
  r.test_samples = test.size();
  r.pgd_steps = pgd_steps;
  return r;
}

// Accuracy curves (Figures 1 and 4) over the sorted, distinct eps_list.
void sweep_run(RunAnalysis& r, MultiModalNet& net, const MultiModalDataset& test, const ReportOptions& o,
               int64_t batch_size) {
  auto eps = o.eps_list;
  std::sort(eps.begin(), eps.end());
  eps.erase(std::unique(eps.begin(), eps.end()), eps.end());
  report_progress(o, fmt::format("{}: FGM and PGD sweeps over eps {:g} on {} test samples", r.name,
                                 fmt::join(eps, ", "), r.test_samples));
  r.fgm = sweep_attack(net, test, "fgm", eps, batch_size, r.pgd_steps, o.show_progress);
  r.pgd = sweep_attack(net, test, "pgd", eps, batch_size, r.pgd_steps, o.show_progress);
}

// Tables 1, 2 and 7: every case the tables show (so analysis computes exactly what they need),
// reusing the sweeps where they already hold the number.
void evaluate_table_cases(RunAnalysis& r, MultiModalNet& net, const MultiModalDataset& test, const ReportOptions& o,
                          int64_t batch_size) {
  report_progress(o, fmt::format("{}: table cases", r.name));
  for (const auto& table : paper_tables(r.modalities, o, r.pgd_steps))
    for (const auto& column : table.columns) {
      const auto& c = column.evaluated;
      std::optional<double> known;
      if (c.attack.kind == "none") known = from_sweep(r.fgm, "all", 0);
      if (c.attack.kind == "fgm") known = from_sweep(r.fgm, c.modality, c.attack.eps);
      if (c.attack.kind == "pgd") known = from_sweep(r.pgd, c.modality, c.attack.eps);
      if (known) {
        EvalResult res;
        res.evaluated = c;
        res.accuracy = *known;
        res.samples = r.test_samples;
        r.results.push_back(res);
      } else {
        r.results.push_back(evaluate(net, test, c, batch_size, o.show_progress));
      }
    }
}

// Randomized smoothing (--bound smoothing): any model, no layer rules; its radii on the x axis of the
// Lipschitz estimate's curve. Bad settings (sigma, n0 > n) stop the report: they are the user's.
void smooth_run(RunAnalysis& r, Experiment& e, const MultiModalDataset& test, const ReportOptions& o) {
  smoothing::SmoothingOptions s;
  s.noise = smoothing::smoothing_noise(e.net, e.config, o.smoothing_sigma, "--bound smoothing: run " + r.name);
  s.samples_select = o.smoothing_select;
  s.samples_estimate = o.smoothing_estimate;
  s.alpha = o.smoothing_alpha;
  s.noise_batch = o.smoothing_noise_batch;
  report_progress(o, fmt::format("{}: randomized smoothing (sigma {}, n = {})", r.name, s.noise.to_string(),
                                 s.samples_estimate));
  std::vector<double> radii;
  if (!o.radii.empty()) {
    radii = o.radii;
  } else {  // up to the largest radius n copies can certify, min sigma * Phi^-1(alpha^(1/n))
    const double top = s.noise.min_sigma() * smoothing::normal_quantile(std::pow(s.alpha, 1.0 / s.samples_estimate));
    for (int i = 0; i <= 40; ++i) radii.push_back(top * i / 40.0);
  }
  r.smoothing = smoothing::certify_smoothing(e.net, test, radii, s, o.show_progress);
}

// Certificate: eta (Figures 3 and 8a/b) and uni-modal radii (Figures 6 and 8c). A head the
// certificate does not support leaves the reason instead, so the rest of the report still comes.
void certify_run(RunAnalysis& r, Experiment& e, const MultiModalDataset& test, const ReportOptions& o,
                 int64_t batch_size) {
  report_progress(o, o.crown ? fmt::format("{}: certificates by bound propagation", r.name)
                             : fmt::format("{}: {} Lipschitz constants and certificates", r.name, o.lipschitz));
  try {
    e.net->require_late_fusion("a certified radius");  // before the Lipschitz estimate it would waste
    Certificate cert;
    if (o.crown) {
      CrownOptions crown;
      crown.intermediate = o.intermediate;
      crown.progress = o.show_progress;
      cert = certify_crown(e.net, test, {0.0}, crown);
    } else {
      const int64_t lip_samples =
          o.lipschitz_samples >= 0 ? o.lipschitz_samples : e.config.integer("crmt.lipschitz_samples");
      cert = certify(e.net, test, estimate_lipschitz(e.net, e.data.train, o.lipschitz, lip_samples), {0.0}, batch_size);
    }
    summarize(cert, safe_share_radii(cert, o.radii));
    r.certificate = std::move(cert);
  } catch (const Error& err) {
    r.certificate_error = err.what();
  }
  if (o.smoothing) smooth_run(r, e, test, o);
}

// Each modality's float64 embeddings of the test samples `idx`, forwarded in batches.
std::vector<at::Tensor> embeddings_of(MultiModalNet& net, const MultiModalDataset& test, const at::Tensor& idx,
                                      size_t modalities, int64_t batch_size) {
  torch::NoGradGuard no_grad;
  const int64_t n = idx.size(0);
  std::vector<std::vector<at::Tensor>> parts(modalities);
  for (int64_t s = 0; s < n; s += batch_size) {
    auto out = net->forward(test.batch(idx.slice(0, s, std::min(n, s + batch_size))));
    for (size_t m = 0; m < modalities; ++m) parts[m].push_back(out.embeddings[m].to(torch::kFloat64));
  }
  std::vector<at::Tensor> joined;
  for (auto& p : parts) joined.push_back(p.empty() ? at::Tensor() : torch::cat(p));
  return joined;
}

// t-SNE of each modality's embeddings (Figure 7) on a seeded subset of the test split.
void embed_run(RunAnalysis& r, MultiModalNet& net, const MultiModalDataset& test, const ReportOptions& o,
               int64_t batch_size) {
  if (o.tsne_samples <= 0) return;
  const int64_t n = std::min(o.tsne_samples, r.test_samples);
  auto idx = sample_indices(r.test_samples, n, 2);
  auto embeddings = embeddings_of(net, test, idx, r.modalities.size(), batch_size);
  r.tsne_labels = test.labels.index_select(0, idx);
  for (size_t m = 0; m < embeddings.size(); ++m) {
    report_progress(o, fmt::format("{}: t-SNE of {} embeddings ({} points)", r.name, r.modalities[m], n));
    if (n < 2) break;  // t-SNE needs two points
    TsneOptions to;
    to.iterations = o.tsne_iterations;
    to.perplexity = o.tsne_perplexity;
    auto res = tsne(embeddings[m], to);
    r.tsne.push_back(res.embedding);
    r.tsne_perplexity = res.perplexity;
  }
}

}  // namespace

std::vector<double> safe_share_radii(const Certificate& cert, const std::vector<double>& requested) {
  if (!requested.empty()) return requested;
  double top = 0;
  for (size_t m = 0; m < cert.modalities.size(); ++m) {
    std::vector<double> r;
    for (const auto& s : cert.samples)
      if (s.correct() && m < s.unimodal_radius.size() && std::isfinite(s.unimodal_radius[m]))
        r.push_back(s.unimodal_radius[m]);
    if (r.empty()) continue;
    std::sort(r.begin(), r.end());
    top = std::max(top, r[static_cast<size_t>(0.95 * (r.size() - 1))]);
  }
  if (!(top > 0)) top = 1;
  std::vector<double> grid;
  for (int i = 0; i <= 40; ++i) grid.push_back(top * i / 40.0);
  return grid;
}

RunAnalysis analyze_run(const std::string& name, const std::string& checkpoint, Experiment& e,
                        const ReportOptions& o) {
  auto& test = e.data.test;
  if (o.test_size > 0 && o.test_size < test.size()) test = test.subset(sample_indices(test.size(), o.test_size, 1));
  const int steps = o.pgd_steps > 0 ? o.pgd_steps : static_cast<int>(e.config.integer("eval.pgd_steps"));
  const int64_t batch_size = e.config.integer("train.eval_batch_size");
  RunAnalysis r = describe_run(name, checkpoint, e, test, steps);
  e.net->eval();
  sweep_run(r, e.net, test, o, batch_size);
  evaluate_table_cases(r, e.net, test, o, batch_size);
  certify_run(r, e, test, o, batch_size);
  embed_run(r, e.net, test, o, batch_size);
  return r;
}

}  // namespace crmt
