#include "crmt/report/paper_figures.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace crmt {

namespace {

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string attacked_set_title(const std::string& target) { return target == "all" ? "all modalities" : target; }

// "m0 0.12, m1 0.34": each modality with its mean eta, or why the run has no certificate.
std::string mean_etas(const RunAnalysis& r) {
  if (!r.certificate) return r.certificate_error.empty() ? "-" : "not certified: " + r.certificate_error;
  const auto& c = *r.certificate;
  std::string etas;
  for (size_t m = 0; m < c.modalities.size(); ++m)
    etas += fmt::format("{}{} {}", m ? ", " : "", c.modalities[m], format_number(c.mean_eta[m]));
  return etas;
}

std::optional<double> accuracy_of(const RunAnalysis& r, const EvalCase& c) {
  const auto label = c.label();
  for (const auto& res : r.results)
    if (res.evaluated.label() == label) return res.accuracy;
  return std::nullopt;
}

// Accuracy in [0, 1] on the y axis against the l2 attack size on the x axis.
LinePlot accuracy_plot(const std::string& title) {
  LinePlot p;
  p.title = title;
  p.xlabel = "attack size eps (l2)";
  p.ylabel = "accuracy";
  p.ymin = 0, p.ymax = 1;
  return p;
}

// The modalities a sweep attacked one at a time: its targets after "all".
std::vector<std::string> unimodal_targets(const Sweep& s) {
  return s.targets.empty() ? std::vector<std::string>{} : std::vector<std::string>(s.targets.begin() + 1, s.targets.end());
}

PaperFigure sweep_curves(const RunAnalysis& r, const Sweep& s, int pgd_steps) {
  auto p = accuracy_plot(fmt::format("Accuracy under {} (run {})",
                                     s.attack == "pgd" ? fmt::format("l2-PGD, {} steps", pgd_steps) : "FGM", r.name));
  for (size_t t = 0; t < s.targets.size(); ++t)
    p.series.push_back({s.targets[t] == "all" ? "all modalities" : s.targets[t] + " only", s.strengths, s.accuracy[t],
                        false});
  // Figure 4 plots the gap between the two uni-modal curves of a two-modality model; with more
  // modalities there is no single pair to compare, so no gap line.
  const auto modalities = unimodal_targets(s);
  if (modalities.size() == 2) {
    LineSeries gap{fmt::format("gap |{} - {}|", modalities[0], modalities[1]), s.strengths, {}, true};
    for (size_t e = 0; e < s.strengths.size(); ++e) gap.y.push_back(std::abs(s.accuracy[1][e] - s.accuracy[2][e]));
    p.series.push_back(gap);
  }
  return {file_stem(r.name) + "_" + s.attack + "_accuracy",
          fmt::format("{} accuracy against eps, run {}", upper(s.attack), r.name), FigureFamily::kAccuracyCurves, p};
}

// The certificate's class names: the run's when they match its class count, else 0..K-1.
std::vector<std::string> class_labels(const RunAnalysis& r, int64_t k) {
  if (r.class_names.size() == static_cast<size_t>(k)) return r.class_names;
  std::vector<std::string> labels;
  for (int64_t i = 0; i < k; ++i) labels.push_back(std::to_string(i));
  return labels;
}

// A K x K map over class pairs (y, j != y) of value(y, j); the diagonal stays undefined.
template <typename Value>
HeatMap class_pair_map(const std::string& title, const std::string& cblabel, const std::vector<std::string>& classes,
                       const Value& value) {
  const auto k = static_cast<int64_t>(classes.size());
  HeatMap h;
  h.title = title;
  h.xlabel = "class j";
  h.ylabel = "class y";
  h.cblabel = cblabel;
  h.row_labels = h.col_labels = classes;
  h.values.assign(k, std::vector<double>(k, NAN));
  for (int64_t y = 0; y < k; ++y)
    for (int64_t j = 0; j < k; ++j)
      if (y != j) h.values[y][j] = value(y, j);
  return h;
}

// The share of samples that are correct and certified to radius >= r, by modality m's uni-modal
// radius, or by the joint radius when m < 0.
double share_at_least(const Certificate& cert, int m, double r) {
  if (cert.samples.empty()) return 0;
  int64_t n = 0;
  for (const auto& s : cert.samples) {
    const double radius = m < 0 ? s.radius : s.unimodal_radius[m];
    if (s.correct() && radius >= r) ++n;
  }
  return static_cast<double>(n) / cert.samples.size();
}

LineSeries safe_share_series(const Certificate& c, int m, const std::string& title, bool dashed) {
  LineSeries s{title, c.radii, {}, dashed};
  for (double radius : c.radii) s.y.push_back(share_at_least(c, m, radius));
  return s;
}

PaperFigure tsne_scatter(const RunAnalysis& r, size_t m) {
  ScatterPlot sp;
  sp.title = fmt::format("t-SNE of {} embeddings, run {} ({} points, perplexity {:g})", r.modalities[m], r.name,
                         r.tsne[m].size(0), r.tsne_perplexity);
  sp.xlabel = "t-SNE 1";
  sp.ylabel = "t-SNE 2";
  sp.group_names = r.class_names;
  auto y = r.tsne[m].cpu().contiguous();
  auto ya = y.accessor<double, 2>();
  auto labels = r.tsne_labels.to(torch::kLong).cpu().contiguous();
  auto la = labels.accessor<int64_t, 1>();
  for (int64_t i = 0; i < y.size(0); ++i) {
    sp.x.push_back(ya[i][0]);
    sp.y.push_back(y.size(1) > 1 ? ya[i][1] : 0.0);
    sp.group.push_back(la[i]);
  }
  return {file_stem(r.name) + "_tsne_" + file_stem(r.modalities[m]),
          fmt::format("t-SNE of {} embeddings, run {}", r.modalities[m], r.name), FigureFamily::kTsne, sp};
}

template <typename T>
void append(std::vector<T>& to, std::vector<T> more) {
  for (auto& x : more) to.push_back(std::move(x));
}

}  // namespace

std::string file_stem(const std::string& name) {
  std::string s;
  for (char c : name) s += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
  if (s.empty() || s[0] == '.') s = "_" + s;
  return s;
}

std::vector<std::string> all_modalities(const std::vector<RunAnalysis>& runs) {
  std::vector<std::string> all;
  for (const auto& r : runs)
    for (const auto& m : r.modalities)
      if (std::find(all.begin(), all.end(), m) == all.end()) all.push_back(m);
  return all;
}

Table runs_overview_table(const std::vector<RunAnalysis>& runs) {
  Table t;
  t.header = {"run", "checkpoint", "method", "head", "modalities", "classes", "test samples", "preferred modality",
              "mean eta per modality"};
  for (const auto& r : runs) {
    const std::string pref = r.certificate ? r.certificate->modalities[r.certificate->preferred_modality] : "-";
    t.rows.push_back({r.name, r.checkpoint, r.method, r.head, fmt::format("{}", fmt::join(r.modalities, ", ")),
                      std::to_string(r.class_names.size()), std::to_string(r.test_samples), pref, mean_etas(r)});
  }
  return t;
}

std::vector<PaperTable> paper_tables(const std::vector<std::string>& modalities, const ReportOptions& o, int steps) {
  const EvalCase clean{AttackSpec{"none", 0, 0}, "all"};
  PaperTable t1{"table1", "table1_multimodal_attacks", "Table 1: accuracy under multi-modal attacks",
                fmt::format("FGM and l2-PGD ({} steps) with eps = {:g} on all modalities at once.", steps, o.eps), {}};
  t1.columns.push_back({clean, "clean"});
  for (const std::string k : {"fgm", "pgd"}) t1.columns.push_back({{AttackSpec{k, o.eps, steps}, "all"}, upper(k)});

  PaperTable t2{"table2", "table2_unimodal_attacks", "Table 2: accuracy under uni-modal attacks and missing modalities",
                fmt::format("FGM and l2-PGD ({} steps) with eps = {:g} on one modality; 'missing' replaces the "
                            "modality by zeros (its training mean).",
                            steps, o.unimodal_eps),
                {}};
  t2.columns.push_back({clean, "clean"});
  for (const std::string k : {"fgm", "pgd"})
    for (const auto& m : modalities) t2.columns.push_back({{AttackSpec{k, o.unimodal_eps, steps}, m}, upper(k) + " " + m});
  for (const auto& m : modalities) t2.columns.push_back({{AttackSpec{"missing", 0, 0}, m}, "missing " + m});

  PaperTable t7{"table7", "table7_other_attacks", "Table 7: accuracy under other multi-modal attacks",
                fmt::format("MGN: Gaussian noise sigma = {:g}; MPM: each input entry missing with p = {:g}; MEA: "
                            "embedding attack, l2 eps = {:g} ({} steps); all on every modality.",
                            o.mgn_sigma, o.mpm_rate, o.mea_eps, steps),
                {}};
  t7.columns.push_back({{AttackSpec{"mgn", o.mgn_sigma, steps}, "all"}, fmt::format("MGN sigma={:g}", o.mgn_sigma)});
  t7.columns.push_back({{AttackSpec{"mpm", o.mpm_rate, steps}, "all"}, fmt::format("MPM p={:g}", o.mpm_rate)});
  t7.columns.push_back({{AttackSpec{"mea", o.mea_eps, steps}, "all"}, fmt::format("MEA eps={:g}", o.mea_eps)});
  return {t1, t2, t7};
}

Table accuracy_table(const PaperTable& t, const std::vector<RunAnalysis>& runs) {
  Table out;
  out.header.push_back("run");
  for (const auto& c : t.columns) out.header.push_back(c.header);
  for (const auto& r : runs) {
    std::vector<std::string> row{r.name};
    for (const auto& c : t.columns) {
      auto v = accuracy_of(r, c.evaluated);
      row.push_back(v ? fmt::format("{:.3f}", *v) : "-");
    }
    out.rows.push_back(row);
  }
  return out;
}

nlohmann::json accuracy_table_json(const PaperTable& t, const std::vector<RunAnalysis>& runs) {
  nlohmann::json cols = nlohmann::json::array();
  for (const auto& c : t.columns)
    cols.push_back({{"header", c.header}, {"case", c.evaluated.label()}, {"attack", c.evaluated.attack.kind},
                    {"strength", c.evaluated.attack.eps}, {"modality", c.evaluated.modality}});
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : runs) {
    nlohmann::json acc = nlohmann::json::object();
    for (const auto& c : t.columns) {
      auto v = accuracy_of(r, c.evaluated);
      acc[c.header] = v ? nlohmann::json(*v) : nlohmann::json(nullptr);
    }
    rows.push_back({{"run", r.name}, {"checkpoint", r.checkpoint}, {"test_samples", r.test_samples}, {"accuracy", acc}});
  }
  return {{"table", t.id}, {"title", t.title}, {"note", t.note}, {"columns", cols}, {"rows", rows}};
}

std::vector<PaperFigure> accuracy_curves(const RunAnalysis& run, int pgd_steps) {
  return {sweep_curves(run, run.fgm, pgd_steps), sweep_curves(run, run.pgd, pgd_steps)};
}

std::vector<PaperFigure> eta_maps(const RunAnalysis& run) {
  if (!run.certificate) return {};
  const auto& c = *run.certificate;
  const auto eta = c.eta.to(torch::kFloat64).cpu().contiguous();
  auto acc = eta.accessor<double, 3>();
  const auto classes = class_labels(run, c.num_classes);
  const auto stem = file_stem(run.name);
  const size_t pref = c.preferred_modality;
  std::vector<PaperFigure> figs;
  // Figure 3's view: every other modality relative to the preferred one.
  for (size_t m = 0; m < c.modalities.size(); ++m) {
    if (m == pref) continue;
    auto h = class_pair_map(
        fmt::format("eta({}) / eta({}) (preferred), run {}", c.modalities[m], c.modalities[pref], run.name),
        "eta ratio", classes,
        [&](int64_t y, int64_t j) { return acc[pref][y][j] > 0 ? acc[m][y][j] / acc[pref][y][j] : NAN; });
    figs.push_back({stem + "_eta_ratio_" + file_stem(c.modalities[m]),
                    fmt::format("eta ratio {} / {} over class pairs, run {}", c.modalities[m], c.modalities[pref],
                                run.name),
                    FigureFamily::kEtaMaps, h});
  }
  for (size_t m = 0; m < c.modalities.size(); ++m) {
    auto h = class_pair_map(fmt::format("eta({}) over class pairs, run {}", c.modalities[m], run.name), "eta", classes,
                            [&](int64_t y, int64_t j) { return acc[m][y][j]; });
    figs.push_back({stem + "_eta_" + file_stem(c.modalities[m]),
                    fmt::format("eta of {} over class pairs, run {}", c.modalities[m], run.name),
                    FigureFamily::kEtaMaps, h});
  }
  return figs;
}

std::vector<PaperFigure> safe_share_curves(const RunAnalysis& run) {
  if (!run.certificate) return {};
  const auto& c = *run.certificate;
  LinePlot p;
  p.title = fmt::format("Samples safe against uni-modal perturbations (run {}, radii by {})", run.name, bound_name(c));
  p.xlabel = "perturbation radius r (l2, one modality)";
  p.ylabel = "share of test samples";
  p.ymin = 0, p.ymax = 1;
  for (size_t m = 0; m < c.modalities.size(); ++m)
    p.series.push_back(safe_share_series(c, static_cast<int>(m),
                                         c.modalities[m] + (m == c.preferred_modality ? " (preferred)" : ""), false));
  p.series.push_back(safe_share_series(c, -1, "all modalities (joint radius)", true));
  return {{file_stem(run.name) + "_safe_share",
           fmt::format("safe samples against uni-modal perturbations, run {}", run.name), FigureFamily::kSafeShares, p}};
}

std::vector<PaperFigure> smoothing_curves(const RunAnalysis& run) {
  if (!run.smoothing) return {};
  const auto& s = *run.smoothing;
  LinePlot p;
  p.title = fmt::format("Certified accuracy, run {}: randomized smoothing (sigma {}) vs Lipschitz", run.name,
                        s.options.noise.to_string());
  p.xlabel = "l2 radius r (normalized input space)";
  p.ylabel = "certified accuracy";
  p.ymin = 0, p.ymax = 1;
  p.series.push_back({"smoothing, joint (sound w.p. 1 - alpha)", s.radii, s.certified_accuracy, false});
  for (size_t m = 0; m < s.modalities.size(); ++m)
    p.series.push_back({"smoothing, " + s.modalities[m] + " alone", s.radii, s.unimodal_certified[m], true});
  if (run.certificate) {
    std::vector<double> lipschitz;
    for (double r : s.radii) lipschitz.push_back(certified_accuracy_at(*run.certificate, r));
    p.series.push_back({bound_name(*run.certificate) + ", joint", s.radii, lipschitz, false});
  }
  return {{file_stem(run.name) + "_smoothing",
           fmt::format("certified accuracy by randomized smoothing and by the Lipschitz bound, run {}", run.name),
           FigureFamily::kSafeShares, p}};
}

std::vector<PaperFigure> tsne_scatters(const RunAnalysis& run) {
  std::vector<PaperFigure> figs;
  for (size_t m = 0; m < run.tsne.size(); ++m) figs.push_back(tsne_scatter(run, m));
  return figs;
}

std::vector<PaperFigure> run_comparison_curves(const std::vector<RunAnalysis>& runs) {
  if (runs.size() < 2) return {};
  std::vector<std::string> targets{"all"};
  append(targets, all_modalities(runs));
  std::vector<PaperFigure> figs;
  for (const std::string attack : {"fgm", "pgd"})
    for (const auto& target : targets) {
      auto p = accuracy_plot(fmt::format("{} on {}: runs compared", upper(attack), attacked_set_title(target)));
      for (const auto& r : runs) {
        const Sweep& s = attack == "fgm" ? r.fgm : r.pgd;
        for (size_t t = 0; t < s.targets.size(); ++t)
          if (s.targets[t] == target) p.series.push_back({r.name, s.strengths, s.accuracy[t], false});
      }
      figs.push_back({"compare_" + attack + "_" + file_stem(target),
                      fmt::format("{} on {}, all runs", upper(attack), target), FigureFamily::kAccuracyCurves, p});
    }
  return figs;
}

std::vector<PaperFigure> paper_figures(const std::vector<RunAnalysis>& runs) {
  if (runs.empty()) return {};
  const int pgd_steps = runs.front().pgd_steps;
  std::vector<PaperFigure> figs;
  for (const auto& r : runs) {
    append(figs, accuracy_curves(r, pgd_steps));
    append(figs, eta_maps(r));
    append(figs, safe_share_curves(r));
    append(figs, smoothing_curves(r));
    append(figs, tsne_scatters(r));
  }
  append(figs, run_comparison_curves(runs));
  return figs;
}

}  // namespace crmt
