#include "crmt/report/report.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "crmt/certify/lipschitz.h"
#include "crmt/core/error.h"
#include "crmt/report/figures.h"
#include "crmt/report/html.h"
#include "crmt/report/tsne.h"

namespace crmt {

namespace fs = std::filesystem;

namespace {

void note(const ReportOptions& o, const std::string& text) {
  if (o.show_progress) std::fprintf(stderr, "crmt report: %s\n", text.c_str());
}

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path);
  if (!out) fail("{}: cannot write", path.string());
  out << text;
  if (!out) fail("{}: writing failed", path.string());
}


// Accuracy of `target` at strength `eps` from a sweep, if the sweep has it.
std::optional<double> from_sweep(const Sweep& s, const std::string& target, double eps) {
  for (size_t t = 0; t < s.targets.size(); ++t)
    if (s.targets[t] == target)
      for (size_t e = 0; e < s.strengths.size(); ++e)
        if (std::abs(s.strengths[e] - eps) < 1e-12) return s.accuracy[t][e];
  return std::nullopt;
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// One column of a results table: the evaluation case it shows and its header.
struct Column {
  EvalCase c;
  std::string header;
};

struct ResultTable {
  std::string id, file, title, note;
  std::vector<Column> columns;
};

std::vector<std::string> union_modalities(const std::vector<RunAnalysis>& runs) {
  std::vector<std::string> all;
  for (const auto& r : runs)
    for (const auto& m : r.modalities)
      if (std::find(all.begin(), all.end(), m) == all.end()) all.push_back(m);
  return all;
}

std::vector<ResultTable> result_tables(const std::vector<RunAnalysis>& runs, const ReportOptions& o, int steps) {
  const auto mods = union_modalities(runs);
  std::vector<ResultTable> tables;
  ResultTable t1{"table1", "table1_multimodal_attacks", "Table 1: accuracy under multi-modal attacks",
                 fmt::format("FGM and l2-PGD ({} steps) with eps = {:g} on all modalities at once.", steps, o.eps), {}};
  t1.columns.push_back({{AttackSpec{"none", 0, 0}, "all"}, "clean"});
  for (const std::string k : {"fgm", "pgd"}) t1.columns.push_back({{AttackSpec{k, o.eps, steps}, "all"}, upper(k)});
  tables.push_back(t1);

  ResultTable t2{"table2", "table2_unimodal_attacks", "Table 2: accuracy under uni-modal attacks and missing modalities",
                 fmt::format("FGM and l2-PGD ({} steps) with eps = {:g} on one modality; 'missing' replaces the "
                             "modality by zeros (its training mean).",
                             steps, o.unimodal_eps),
                 {}};
  t2.columns.push_back({{AttackSpec{"none", 0, 0}, "all"}, "clean"});
  for (const std::string k : {"fgm", "pgd"})
    for (const auto& m : mods) t2.columns.push_back({{AttackSpec{k, o.unimodal_eps, steps}, m}, upper(k) + " " + m});
  for (const auto& m : mods) t2.columns.push_back({{AttackSpec{"missing", 0, 0}, m}, "missing " + m});
  tables.push_back(t2);

  ResultTable t7{"table7", "table7_other_attacks", "Table 7: accuracy under other multi-modal attacks",
                 fmt::format("MGN: Gaussian noise sigma = {:g}; MPM: each input entry missing with p = {:g}; MEA: "
                             "embedding attack, l2 eps = {:g} ({} steps); all on every modality.",
                             o.mgn_sigma, o.mpm_rate, o.mea_eps, steps),
                 {}};
  t7.columns.push_back({{AttackSpec{"mgn", o.mgn_sigma, steps}, "all"}, fmt::format("MGN sigma={:g}", o.mgn_sigma)});
  t7.columns.push_back({{AttackSpec{"mpm", o.mpm_rate, steps}, "all"}, fmt::format("MPM p={:g}", o.mpm_rate)});
  t7.columns.push_back({{AttackSpec{"mea", o.mea_eps, steps}, "all"}, fmt::format("MEA eps={:g}", o.mea_eps)});
  tables.push_back(t7);
  return tables;
}

std::optional<double> lookup(const RunAnalysis& r, const EvalCase& c) {
  const auto label = c.label();
  for (const auto& res : r.results)
    if (res.evaluated.label() == label) return res.accuracy;
  return std::nullopt;
}

Table to_table(const ResultTable& t, const std::vector<RunAnalysis>& runs) {
  Table out;
  out.header.push_back("run");
  for (const auto& c : t.columns) out.header.push_back(c.header);
  for (const auto& r : runs) {
    std::vector<std::string> row{r.name};
    for (const auto& c : t.columns) {
      auto v = lookup(r, c.c);
      row.push_back(v ? fmt::format("{:.3f}", *v) : "-");
    }
    out.rows.push_back(row);
  }
  return out;
}

nlohmann::json to_json(const ResultTable& t, const std::vector<RunAnalysis>& runs) {
  nlohmann::json cols = nlohmann::json::array();
  for (const auto& c : t.columns)
    cols.push_back({{"header", c.header}, {"case", c.c.label()}, {"attack", c.c.attack.kind},
                    {"strength", c.c.attack.eps}, {"modality", c.c.modality}});
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : runs) {
    nlohmann::json acc = nlohmann::json::object();
    for (const auto& c : t.columns) {
      auto v = lookup(r, c.c);
      acc[c.header] = v ? nlohmann::json(*v) : nlohmann::json(nullptr);
    }
    rows.push_back({{"run", r.name}, {"checkpoint", r.checkpoint}, {"test_samples", r.test_samples}, {"accuracy", acc}});
  }
  return {{"table", t.id}, {"title", t.title}, {"note", t.note}, {"columns", cols}, {"rows", rows}};
}

// The radii of the safe-share curves: the user's, or 41 points up to the largest modality's 95th
// percentile of finite uni-modal radii among correct samples.
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

double share_at_least(const Certificate& cert, int m /* -1 = joint radius */, double r) {
  if (cert.samples.empty()) return 0;
  int64_t n = 0;
  for (const auto& s : cert.samples) {
    const double radius = m < 0 ? s.radius : s.unimodal_radius[m];
    if (s.correct() && radius >= r) ++n;
  }
  return static_cast<double>(n) / cert.samples.size();
}

// `n` of the indices 0..size-1, drawn without replacement from a fixed seed and sorted: a
// repeatable subset whose class mix follows the split's, whatever order the split is in.
at::Tensor sample_indices(int64_t size, int64_t n, uint64_t seed) {
  if (n >= size) return torch::arange(size, torch::kLong);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return std::get<0>(at::randperm(size, gen, torch::kLong).slice(0, 0, n).sort());
}

std::string describe_case_list(const std::vector<double>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += fmt::format("{}{:g}", i ? ", " : "", v[i]);
  return s;
}

}  // namespace

std::string file_stem(const std::string& name) {
  std::string s;
  for (char c : name) s += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
  if (s.empty() || s[0] == '.') s = "_" + s;
  return s;
}

RunAnalysis analyze_run(const std::string& name, const std::string& checkpoint, Experiment& e,
                        const ReportOptions& o) {
  RunAnalysis r;
  r.name = name;
  r.checkpoint = checkpoint;
  r.method = e.config.str("train.method");
  r.head = e.config.str("model.head");
  r.architecture = e.architecture;
  r.config_yaml = e.config.to_yaml();
  auto& test = e.data.test;
  if (o.test_size > 0 && o.test_size < test.size()) test = test.subset(sample_indices(test.size(), o.test_size, 1));
  r.modalities = test.modality_names();
  r.class_names = test.class_names;
  r.test_samples = test.size();
  const int steps = o.pgd_steps > 0 ? o.pgd_steps : static_cast<int>(e.config.integer("eval.pgd_steps"));
  r.pgd_steps = steps;
  const int64_t bs = e.config.integer("train.eval_batch_size");
  e.net->eval();

  // Accuracy curves (Figures 1 and 4).
  auto eps = o.eps_list;
  std::sort(eps.begin(), eps.end());
  eps.erase(std::unique(eps.begin(), eps.end()), eps.end());
  note(o, fmt::format("{}: FGM and PGD sweeps over eps {} on {} test samples", name, describe_case_list(eps), r.test_samples));
  r.fgm = sweep_attack(e.net, test, "fgm", eps, bs, steps, o.show_progress);
  r.pgd = sweep_attack(e.net, test, "pgd", eps, bs, steps, o.show_progress);

  // Tables 1, 2 and 7: reuse the sweeps where they already hold the number.
  note(o, fmt::format("{}: table cases", name));
  std::vector<RunAnalysis> self{r};
  for (const auto& t : result_tables(self, o, steps))
    for (const auto& col : t.columns) {
      const auto& c = col.c;
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
        r.results.push_back(evaluate(e.net, test, c, bs, o.show_progress));
      }
    }

  // Certificate: eta (Figures 3 and 8a/b) and uni-modal radii (Figures 6 and 8c).
  note(o, fmt::format("{}: {} Lipschitz constants and certificates", name, o.lipschitz));
  try {
    const int64_t lip_samples =
        o.lipschitz_samples >= 0 ? o.lipschitz_samples : e.config.integer("crmt.lipschitz_samples");
    auto lipschitz = estimate_lipschitz(e.net, e.data.train, o.lipschitz, lip_samples);
    Certificate cert = certify(e.net, test, lipschitz, {0.0}, bs);
    summarize(cert, safe_share_radii(cert, o.radii));
    r.certificate = std::move(cert);
  } catch (const Error& err) {
    r.certificate_error = err.what();
  }

  // t-SNE of each modality's embeddings (Figure 7).
  if (o.tsne_samples > 0) {
    const int64_t n = std::min(o.tsne_samples, r.test_samples);
    auto idx = sample_indices(r.test_samples, n, 2);
    std::vector<std::vector<at::Tensor>> parts(r.modalities.size());
    {
      torch::NoGradGuard no_grad;
      for (int64_t s = 0; s < n; s += bs) {
        auto out = e.net->forward(test.batch(idx.slice(0, s, std::min(n, s + bs))));
        for (size_t m = 0; m < parts.size(); ++m) parts[m].push_back(out.embeddings[m].to(torch::kFloat64));
      }
    }
    r.tsne_labels = test.labels.index_select(0, idx);
    for (size_t m = 0; m < parts.size(); ++m) {
      note(o, fmt::format("{}: t-SNE of {} embeddings ({} points)", name, r.modalities[m], n));
      if (n < 2) break;
      TsneOptions to;
      to.iterations = o.tsne_iterations;
      to.perplexity = o.tsne_perplexity;
      auto res = tsne(torch::cat(parts[m]), to);
      r.tsne.push_back(res.embedding);
      r.tsne_perplexity = res.perplexity;
    }
  }
  return r;
}

ReportSummary write_report(const std::vector<RunAnalysis>& runs, const ReportOptions& o) {
  if (o.out_dir.empty()) fail("report: the output folder (--out) is empty");
  if (runs.empty()) fail("report: no runs to report");
  const fs::path out(o.out_dir);
  const fs::path fig_dir = out / "figures";
  fs::create_directories(fig_dir);
  fs::create_directories(out / "tables");
  ReportSummary summary;
  const int steps = runs.front().pgd_steps;
  std::vector<HtmlSection> sections;

  // Overview.
  {
    Table t;
    t.header = {"run", "checkpoint", "method", "head", "modalities", "classes", "test samples", "preferred modality",
                "mean eta per modality"};
    for (const auto& r : runs) {
      std::string pref = "-", etas = r.certificate_error.empty() ? "-" : "not certified: " + r.certificate_error;
      if (r.certificate) {
        pref = r.certificate->modalities[r.certificate->preferred_modality];
        etas.clear();
        for (size_t m = 0; m < r.certificate->modalities.size(); ++m)
          etas += fmt::format("{}{} {}", m ? ", " : "", r.certificate->modalities[m],
                              format_number(r.certificate->mean_eta[m]));
      }
      std::string mods;
      for (size_t m = 0; m < r.modalities.size(); ++m) mods += (m ? ", " : "") + r.modalities[m];
      t.rows.push_back({r.name, r.checkpoint, r.method, r.head, mods, std::to_string(r.class_names.size()),
                        std::to_string(r.test_samples), pref, etas});
    }
    HtmlSection s{"runs", "Runs", "The preferred modality has the largest mean vulnerability indicator eta: attacks on it "
                                  "are the most effective (Section 3.3 of the paper).",
                  {{"", t, {}}}, {}, "", ""};
    sections.push_back(s);
  }

  // Tables 1, 2, 7.
  for (const auto& rt : result_tables(runs, o, steps)) {
    auto t = to_table(rt, runs);
    const auto base = out / "tables" / rt.file;
    write_text(base.string() + ".md", "# " + rt.title + "\n\n" + rt.note + "\n\n" + t.to_markdown());
    write_text(base.string() + ".csv", t.to_csv());
    write_text(base.string() + ".json", to_json(rt, runs).dump(2) + "\n");
    for (const auto* ext : {".md", ".csv", ".json"}) summary.tables.push_back(base.string() + ext);
    sections.push_back({rt.id, rt.title, rt.note + " Accuracy in [0, 1]; rows are runs.",
                        {{"", t, {"tables/" + rt.file + ".md", "tables/" + rt.file + ".csv", "tables/" + rt.file + ".json"}}},
                        {}, "", ""});
  }

  // Figures.
  struct Pending {
    FigureFiles files;
    std::string caption;
    size_t section;
  };
  std::vector<Pending> figs;
  HtmlSection curves{"curves", "Accuracy against attack size (Figures 1 and 4)",
                     "FGM and l2-PGD on all modalities at once and on each modality alone; x = l2 budget eps in the "
                     "normalized input space. With two modalities the dashed line is the gap between the two uni-modal "
                     "curves (Figure 4).",
                     {}, {}, "", ""};
  HtmlSection eta{"eta", "Vulnerability indicators eta over class pairs (Figures 3 and 8a/b)",
                  "eta(m)[y][j] bounds how fast a perturbation of modality m moves the margin between classes y and j "
                  "(Theorems 3.3 / 3.5). The ratio maps divide each other modality by the preferred one, as Figure 3 does; "
                  "values below 1 mean the preferred modality is the more vulnerable for that pair.",
                  {}, {}, "", ""};
  HtmlSection safe{"safe", "Samples safe against uni-modal perturbations (Figures 6 and 8c)",
                   "Share of test samples that are correctly classified and certified against every perturbation of "
                   "one modality with l2 norm up to r (Proposition 3.4's uni-modal radius); dashed: the joint "
                   "multi-modal radius.",
                   {}, {}, "", ""};
  HtmlSection tsne_sec{"tsne", "t-SNE of each modality's embeddings (Figure 7)",
                       "Exact t-SNE (van der Maaten and Hinton 2008) of the test embeddings phi(m)(x(m)), coloured by the "
                       "true class; better separated classes mean larger uni-modal representation margins.",
                       {}, {}, "", ""};
  enum { kCurves, kEta, kSafe, kTsne };

  for (const auto& r : runs) {
    const auto stem = file_stem(r.name);
    // Accuracy curves.
    for (const Sweep* s : {&r.fgm, &r.pgd}) {
      LinePlot p;
      p.title = fmt::format("Accuracy under {} (run {})",
                            s->attack == "pgd" ? fmt::format("l2-PGD, {} steps", steps) : "FGM", r.name);
      p.xlabel = "attack size eps (l2)";
      p.ylabel = "accuracy";
      p.ymin = 0, p.ymax = 1;
      for (size_t t = 0; t < s->targets.size(); ++t)
        p.series.push_back({s->targets[t] == "all" ? "all modalities" : s->targets[t] + " only", s->strengths,
                            s->accuracy[t], false});
      if (s->targets.size() == 3) {
        LineSeries gap{fmt::format("gap |{} - {}|", s->targets[1], s->targets[2]), s->strengths, {}, true};
        for (size_t e = 0; e < s->strengths.size(); ++e) gap.y.push_back(std::abs(s->accuracy[1][e] - s->accuracy[2][e]));
        p.series.push_back(gap);
      }
      figs.push_back({write_line_plot(p, fig_dir.string(), stem + "_" + s->attack + "_accuracy"),
                      fmt::format("{} accuracy against eps, run {}", upper(s->attack), r.name), kCurves});
    }
    // eta heat maps.
    if (r.certificate) {
      const auto& c = *r.certificate;
      auto eta_t = c.eta.to(torch::kFloat64).contiguous();
      auto acc = eta_t.accessor<double, 3>();
      const int64_t k = c.num_classes;
      auto cls = r.class_names.size() == static_cast<size_t>(k) ? r.class_names : std::vector<std::string>{};
      if (cls.empty())
        for (int64_t i = 0; i < k; ++i) cls.push_back(std::to_string(i));
      // A K x K map over class pairs (y, j != y); the diagonal stays undefined.
      auto pair_map = [&](const std::string& title, const std::string& cblabel, const auto& value) {
        HeatMap h;
        h.title = title;
        h.xlabel = "class j";
        h.ylabel = "class y";
        h.cblabel = cblabel;
        h.row_labels = h.col_labels = cls;
        h.values.assign(k, std::vector<double>(k, NAN));
        for (int64_t y = 0; y < k; ++y)
          for (int64_t j = 0; j < k; ++j)
            if (y != j) h.values[y][j] = value(y, j);
        return h;
      };
      const size_t pref = c.preferred_modality;
      for (size_t m = 0; m < c.modalities.size(); ++m) {
        if (m == pref) continue;
        auto h = pair_map(
            fmt::format("eta({}) / eta({}) (preferred), run {}", c.modalities[m], c.modalities[pref], r.name), "eta ratio",
            [&](int64_t y, int64_t j) { return acc[pref][y][j] > 0 ? acc[m][y][j] / acc[pref][y][j] : NAN; });
        figs.push_back({write_heat_map(h, fig_dir.string(), stem + "_eta_ratio_" + file_stem(c.modalities[m])),
                        fmt::format("eta ratio {} / {} over class pairs, run {}", c.modalities[m], c.modalities[pref],
                                    r.name),
                        kEta});
      }
      for (size_t m = 0; m < c.modalities.size(); ++m) {
        auto h = pair_map(fmt::format("eta({}) over class pairs, run {}", c.modalities[m], r.name), "eta",
                          [&](int64_t y, int64_t j) { return acc[m][y][j]; });
        figs.push_back({write_heat_map(h, fig_dir.string(), stem + "_eta_" + file_stem(c.modalities[m])),
                        fmt::format("eta of {} over class pairs, run {}", c.modalities[m], r.name), kEta});
      }
      // Safe shares.
      LinePlot p;
      p.title = fmt::format("Samples safe against uni-modal perturbations (run {})", r.name);
      p.xlabel = "perturbation radius r (l2, one modality)";
      p.ylabel = "share of test samples";
      p.ymin = 0, p.ymax = 1;
      for (size_t m = 0; m < c.modalities.size(); ++m) {
        LineSeries s{c.modalities[m] + fmt::format("{}", m == pref ? " (preferred)" : ""), c.radii, {}, false};
        for (double rad : c.radii) s.y.push_back(share_at_least(c, static_cast<int>(m), rad));
        p.series.push_back(s);
      }
      LineSeries joint{"all modalities (joint radius)", c.radii, {}, true};
      for (double rad : c.radii) joint.y.push_back(share_at_least(c, -1, rad));
      p.series.push_back(joint);
      figs.push_back({write_line_plot(p, fig_dir.string(), stem + "_safe_share"),
                      fmt::format("safe samples against uni-modal perturbations, run {}", r.name), kSafe});
      write_text(out / "runs" / stem / "certificate.json", certificate_json(c).dump(2) + "\n");
    }
    // t-SNE.
    for (size_t m = 0; m < r.tsne.size(); ++m) {
      ScatterPlot sp;
      sp.title = fmt::format("t-SNE of {} embeddings, run {} ({} points, perplexity {:g})", r.modalities[m], r.name,
                             r.tsne[m].size(0), r.tsne_perplexity);
      sp.xlabel = "t-SNE 1";
      sp.ylabel = "t-SNE 2";
      sp.group_names = r.class_names;
      auto y = r.tsne[m].contiguous();
      auto ya = y.accessor<double, 2>();
      auto labels = r.tsne_labels.to(torch::kLong).contiguous();
      for (int64_t i = 0; i < y.size(0); ++i) {
        sp.x.push_back(ya[i][0]);
        sp.y.push_back(y.size(1) > 1 ? ya[i][1] : 0.0);
        sp.group.push_back(labels[i].item<int64_t>());
      }
      figs.push_back({write_scatter_plot(sp, fig_dir.string(), stem + "_tsne_" + file_stem(r.modalities[m])),
                      fmt::format("t-SNE of {} embeddings, run {}", r.modalities[m], r.name), kTsne});
    }
    // Per-run files: config and sweeps.
    write_text(out / "runs" / stem / "config.yaml", r.config_yaml);
    for (const Sweep* s : {&r.fgm, &r.pgd}) {
      write_text(out / "runs" / stem / ("sweep_" + s->attack + ".csv"), sweep_table(*s).to_csv());
      write_text(out / "runs" / stem / ("sweep_" + s->attack + ".json"), sweep_json(*s).dump(2) + "\n");
    }
  }
  // Figure 1's layout: one panel per attacked set, one line per run.
  if (runs.size() > 1) {
    for (const std::string attack : {"fgm", "pgd"}) {
      for (const auto& target : [&] {
             std::vector<std::string> t{"all"};
             for (const auto& m : union_modalities(runs)) t.push_back(m);
             return t;
           }()) {
        LinePlot p;
        p.title = fmt::format("{} on {}: runs compared", upper(attack), target == "all" ? "all modalities" : target);
        p.xlabel = "attack size eps (l2)";
        p.ylabel = "accuracy";
        p.ymin = 0, p.ymax = 1;
        for (const auto& r : runs) {
          const Sweep& s = attack == "fgm" ? r.fgm : r.pgd;
          for (size_t t = 0; t < s.targets.size(); ++t)
            if (s.targets[t] == target) p.series.push_back({r.name, s.strengths, s.accuracy[t], false});
        }
        figs.push_back({write_line_plot(p, fig_dir.string(), "compare_" + attack + "_" + file_stem(target)),
                        fmt::format("{} on {}, all runs", upper(attack), target), kCurves});
      }
    }
  }

  // Render.
  std::vector<HtmlSection*> fig_sections{&curves, &eta, &safe, &tsne_sec};
  const bool have_gnuplot = gnuplot_available();
  bool all_ok = have_gnuplot;
  if (!have_gnuplot) {
    summary.warnings.push_back(fmt::format(
        "gnuplot not found: tables and index.html written, figures not drawn (their .gp/.dat files are in {}; "
        "install gnuplot-nox and run `gnuplot NAME.gp` there)",
        fig_dir.string()));
  } else {
    note(o, fmt::format("drawing {} figures with gnuplot ({} terminal)", figs.size(), png_terminal()));
  }
  for (const auto& f : figs) {
    std::string problem = have_gnuplot ? render_figure(fig_dir.string(), f.files) : "not drawn: gnuplot is missing";
    if (have_gnuplot && !problem.empty()) {
      all_ok = false;
      summary.warnings.push_back(problem);
    }
    summary.figures.push_back(f.files.name);
    fig_sections[f.section]->figures.push_back({"figures/" + f.files.png(), "figures/" + f.files.svg(), f.caption,
                                               problem.empty() ? "" : problem + " (script: figures/" + f.files.script() + ")"});
  }
  summary.figures_rendered = all_ok;
  for (const auto* s : fig_sections)
    if (!s->figures.empty()) sections.push_back(*s);
  for (const auto& r : runs) {
    if (!r.certificate_error.empty())
      summary.warnings.push_back(fmt::format("run {}: no certificate figures: {}", r.name, r.certificate_error));
    HtmlSection s{"config-" + file_stem(r.name), "Config of run " + r.name,
                  fmt::format("Checkpoint {}; {} test samples; model {}.", r.checkpoint, r.test_samples, r.architecture),
                  {}, {}, "Resolved configuration stored in the checkpoint (runs/" + file_stem(r.name) + "/config.yaml):",
                  r.config_yaml};
    sections.push_back(s);
  }
  std::string intro = fmt::format(
      "Robustness report for {} run(s), reproducing the layout of the tables and figures of 'Quantifying and "
      "Enhancing Multi-modal Robustness with Modality Preference' (ICLR 2024). Accuracy curves over eps = {}.",
      runs.size(), describe_case_list(runs.front().fgm.strengths));
  summary.index_html = (out / "index.html").string();
  write_text(summary.index_html, render_html("crmt report", intro, sections));

  nlohmann::json j = {{"runs", nlohmann::json::array()}, {"figures", summary.figures},
                      {"tables", summary.tables}, {"warnings", summary.warnings},
                      {"figures_rendered", summary.figures_rendered}};
  for (const auto& r : runs) {
    nlohmann::json rj = {{"name", r.name}, {"checkpoint", r.checkpoint}, {"test_samples", r.test_samples},
                         {"fgm", sweep_json(r.fgm)}, {"pgd", sweep_json(r.pgd)}};
    if (r.certificate) rj["certificate"] = certificate_json(*r.certificate);
    if (!r.certificate_error.empty()) rj["certificate_error"] = r.certificate_error;
    j["runs"].push_back(rj);
  }
  write_text(out / "report.json", j.dump(2) + "\n");
  for (const auto& w : summary.warnings) std::fprintf(stderr, "crmt report: warning: %s\n", w.c_str());
  if (o.require_figures && !summary.figures_rendered)
    fail("report: figures were required but not all were drawn ({}); tables and {} were written",
         summary.warnings.empty() ? "unknown reason" : summary.warnings.front(), summary.index_html);
  return summary;
}

ReportSummary write_report(const std::vector<std::pair<std::string, std::string>>& runs, const ReportOptions& o) {
  if (runs.empty()) fail("report: give at least one --run NAME=CHECKPOINT");
  std::set<std::string> names, stems;
  for (const auto& [name, ckpt] : runs) {
    if (name.empty()) fail("report: --run '{}' has an empty name (expected NAME=CHECKPOINT)", "=" + ckpt);
    if (ckpt.empty()) fail("report: --run '{}=' has no checkpoint (expected NAME=CHECKPOINT)", name);
    if (!names.insert(name).second) fail("report: run name '{}' is given twice", name);
    if (!stems.insert(file_stem(name)).second)
      fail("report: run names must differ in their file-name form; '{}' clashes with another run", name);
    if (!fs::exists(ckpt)) fail("report: {}: checkpoint not found (run {})", ckpt, name);
  }
  check_lipschitz_kind(o.lipschitz);
  std::vector<RunAnalysis> analyses;
  for (const auto& [name, ckpt] : runs) {
    note(o, fmt::format("loading run {} from {}", name, ckpt));
    auto e = load_experiment(ckpt, o.overrides);
    analyses.push_back(analyze_run(name, ckpt, e, o));
  }
  return write_report(analyses, o);
}

}  // namespace crmt
