#include "crmt/report/report.h"

#include <cstdio>
#include <filesystem>
#include <set>
#include <variant>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "crmt/certify/lipschitz.h"
#include "crmt/core/atomic_file.h"
#include "crmt/core/error.h"
#include "crmt/report/figures.h"
#include "crmt/report/html.h"

namespace crmt {

namespace fs = std::filesystem;

namespace {

HtmlSection overview_section(const std::vector<RunAnalysis>& runs) {
  return {"runs", "Runs",
          "The preferred modality has the largest mean vulnerability indicator eta: attacks on it are the most "
          "effective (Section 3.3 of the paper).",
          {{"", runs_overview_table(runs), {}}}, {}, "", ""};
}

// Writes Tables 1, 2 and 7 as markdown, CSV and JSON under out/tables, lists the files in the
// summary and returns one page section per table.
std::vector<HtmlSection> write_paper_tables(const std::vector<RunAnalysis>& runs, const ReportOptions& o,
                                            const fs::path& out, ReportSummary& summary) {
  std::vector<HtmlSection> sections;
  // The notes give the first run's PGD step count (runs normally share it: --pgd-steps).
  for (const auto& pt : paper_tables(all_modalities(runs), o, runs.front().pgd_steps)) {
    const auto t = accuracy_table(pt, runs);
    const auto base = (out / "tables" / pt.file).string();
    write_file_atomically(base + ".md", "# " + pt.title + "\n\n" + pt.note + "\n\n" + t.to_markdown());
    write_file_atomically(base + ".csv", t.to_csv());
    write_file_atomically(base + ".json", accuracy_table_json(pt, runs).dump(2) + "\n");
    std::vector<std::string> links;
    for (const auto* ext : {".md", ".csv", ".json"}) {
      summary.tables.push_back(base + ext);
      links.push_back("tables/" + pt.file + ext);
    }
    sections.push_back({pt.id, pt.title, pt.note + " Accuracy in [0, 1]; rows are runs.", {{"", t, links}}, {}, "", ""});
  }
  return sections;
}

// The page's figure sections, indexed by FigureFamily.
std::vector<HtmlSection> figure_sections() {
  return {
      {"curves", "Accuracy against attack size (Figures 1 and 4)",
       "FGM and l2-PGD on all modalities at once and on each modality alone; x = l2 budget eps in the normalized input "
       "space. With two modalities the dashed line is the gap between the two uni-modal curves (Figure 4).",
       {}, {}, "", ""},
      {"eta", "Vulnerability indicators eta over class pairs (Figures 3 and 8a/b)",
       "eta(m)[y][j] bounds how fast a perturbation of modality m moves the margin between classes y and j (Theorems "
       "3.3 / 3.5). The ratio maps divide each other modality by the preferred one, as Figure 3 does; values below 1 "
       "mean the preferred modality is the more vulnerable for that pair.",
       {}, {}, "", ""},
      {"safe", "Samples safe against uni-modal perturbations (Figures 6 and 8c)",
       "Share of test samples that are correctly classified and certified against every perturbation of one modality "
       "with l2 norm up to r (Proposition 3.4's uni-modal radius); dashed: the joint multi-modal radius.",
       {}, {}, "", ""},
      {"tsne", "t-SNE of each modality's embeddings (Figure 7)",
       "Exact t-SNE (van der Maaten and Hinton 2008) of the test embeddings phi(m)(x(m)), coloured by the true class; "
       "better separated classes mean larger uni-modal representation margins.",
       {}, {}, "", ""},
  };
}

// Each figure's data file and gnuplot script under `dir`.
std::vector<FigureFiles> write_figures(const std::vector<PaperFigure>& figs, const std::string& dir) {
  std::vector<FigureFiles> files;
  for (const auto& f : figs) {
    files.push_back(std::visit(
        [&](const auto& plot) {
          using Plot = std::decay_t<decltype(plot)>;
          if constexpr (std::is_same_v<Plot, LinePlot>) return write_line_plot(plot, dir, f.name);
          else if constexpr (std::is_same_v<Plot, HeatMap>) return write_heat_map(plot, dir, f.name);
          else return write_scatter_plot(plot, dir, f.name);
        },
        f.plot));
  }
  return files;
}

// Draws the written figures with gnuplot (when there is one) and returns the non-empty figure
// sections. The summary gets the figure names, the drawing problems and whether all were drawn.
std::vector<HtmlSection> draw_figures(const std::vector<PaperFigure>& figs, const std::vector<FigureFiles>& files,
                                      const std::string& dir, const ReportOptions& o, ReportSummary& summary) {
  const bool have_gnuplot = gnuplot_available();
  if (!have_gnuplot)
    summary.warnings.push_back(fmt::format(
        "gnuplot not found: tables and index.html written, figures not drawn (their .gp/.dat files are in {}; "
        "install gnuplot-nox and run `gnuplot NAME.gp` there)",
        dir));
  else
    report_progress(o, fmt::format("drawing {} figures with gnuplot ({} terminal)", figs.size(), png_terminal()));
  bool all_drawn = have_gnuplot;
  auto sections = figure_sections();
  for (size_t i = 0; i < figs.size(); ++i) {
    const auto& f = files[i];
    const std::string problem = have_gnuplot ? render_figure(dir, f) : "not drawn: gnuplot is missing";
    if (have_gnuplot && !problem.empty()) {
      all_drawn = false;
      summary.warnings.push_back(problem);
    }
    summary.figures.push_back(f.name);
    sections[static_cast<size_t>(figs[i].family)].figures.push_back(
        {"figures/" + f.png(), "figures/" + f.svg(), figs[i].caption,
         problem.empty() ? "" : problem + " (script: figures/" + f.script() + ")"});
  }
  summary.figures_rendered = all_drawn;
  std::vector<HtmlSection> shown;
  for (const auto& s : sections)
    if (!s.figures.empty()) shown.push_back(s);
  return shown;
}

// runs/STEM/: the resolved config, the sweeps and (when certified) the certificate.
void write_run_files(const RunAnalysis& r, const fs::path& out) {
  const auto dir = out / "runs" / file_stem(r.name);
  if (r.certificate) write_file_atomically((dir / "certificate.json").string(), certificate_json(*r.certificate).dump(2) + "\n");
  write_file_atomically((dir / "config.yaml").string(), r.config_yaml);
  for (const Sweep* s : {&r.fgm, &r.pgd}) {
    write_file_atomically((dir / ("sweep_" + s->attack + ".csv")).string(), sweep_table(*s).to_csv());
    write_file_atomically((dir / ("sweep_" + s->attack + ".json")).string(), sweep_json(*s).dump(2) + "\n");
  }
}

HtmlSection config_section(const RunAnalysis& r) {
  return {"config-" + file_stem(r.name), "Config of run " + r.name,
          fmt::format("Checkpoint {}; {} test samples; model {}.", r.checkpoint, r.test_samples, r.architecture),
          {}, {}, "Resolved configuration stored in the checkpoint (runs/" + file_stem(r.name) + "/config.yaml):",
          r.config_yaml};
}

nlohmann::json report_json(const std::vector<RunAnalysis>& runs, const ReportSummary& summary) {
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
  return j;
}

std::string page_intro(const std::vector<RunAnalysis>& runs) {
  return fmt::format(
      "Robustness report for {} run(s), reproducing the layout of the tables and figures of 'Quantifying and "
      "Enhancing Multi-modal Robustness with Modality Preference' (ICLR 2024). Accuracy curves over eps = {:g}.",
      runs.size(), fmt::join(runs.front().fgm.strengths, ", "));
}

}  // namespace

ReportSummary write_report(const std::vector<RunAnalysis>& runs, const ReportOptions& o) {
  if (o.out_dir.empty()) fail("report: the output folder (--out) is empty");
  if (runs.empty()) fail("report: no runs to report");
  const fs::path out(o.out_dir);
  const fs::path fig_dir = out / "figures";
  fs::create_directories(fig_dir);
  fs::create_directories(out / "tables");
  ReportSummary summary;

  std::vector<HtmlSection> sections{overview_section(runs)};
  for (auto& s : write_paper_tables(runs, o, out, summary)) sections.push_back(std::move(s));
  for (const auto& r : runs) write_run_files(r, out);
  const auto figs = paper_figures(runs);
  const auto files = write_figures(figs, fig_dir.string());
  for (auto& s : draw_figures(figs, files, fig_dir.string(), o, summary)) sections.push_back(std::move(s));
  for (const auto& r : runs) {
    if (!r.certificate_error.empty())
      summary.warnings.push_back(fmt::format("run {}: no certificate figures: {}", r.name, r.certificate_error));
    sections.push_back(config_section(r));
  }

  summary.index_html = (out / "index.html").string();
  write_file_atomically(summary.index_html, render_html("crmt report", page_intro(runs), sections));
  write_file_atomically((out / "report.json").string(), report_json(runs, summary).dump(2) + "\n");
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
    report_progress(o, fmt::format("loading run {} from {}", name, ckpt));
    auto e = load_experiment(ckpt, o.overrides);
    analyses.push_back(analyze_run(name, ckpt, e, o));
  }
  return write_report(analyses, o);
}

}  // namespace crmt
