#pragma once
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "crmt/core/table.h"
#include "crmt/eval/evaluator.h"
#include "crmt/report/analysis.h"
#include "crmt/report/figures.h"
#include "crmt/report/options.h"

namespace crmt {

// The paper's tables and figures, made from analysed runs. Nothing here writes a file: report.cpp
// writes what these functions return.

// A run name as a file-name stem (figure names, runs/ folders): letters, digits, '-', '_' and '.'
// kept, anything else '_'.
std::string file_stem(const std::string& name);

// Every modality of the runs, in order of first appearance.
std::vector<std::string> all_modalities(const std::vector<RunAnalysis>& runs);

// Overview: one row per run with its method, head, preferred modality and mean eta per modality.
Table runs_overview_table(const std::vector<RunAnalysis>& runs);

// One column of an accuracy table: the evaluation case it shows and its header.
struct PaperTableColumn {
  EvalCase evaluated;
  std::string header;
};

// Which cases one of the paper's accuracy tables shows, and how it is titled.
struct PaperTable {
  std::string id, file, title, note;
  std::vector<PaperTableColumn> columns;
};

// Tables 1 (multi-modal FGM/PGD), 2 (uni-modal FGM/PGD and missing modalities) and 7 (MGN, MPM,
// MEA) over `modalities`, at the options' strengths with `pgd_steps` iterations.
std::vector<PaperTable> paper_tables(const std::vector<std::string>& modalities, const ReportOptions& options,
                                     int pgd_steps);
// A table's accuracies, one row per run ("-" where a run lacks the case).
Table accuracy_table(const PaperTable& table, const std::vector<RunAnalysis>& runs);
nlohmann::json accuracy_table_json(const PaperTable& table, const std::vector<RunAnalysis>& runs);

// The page section a figure goes to.
enum class FigureFamily { kAccuracyCurves, kEtaMaps, kSafeShares, kTsne };

// One figure to write under figures/ as `name` (.dat, .gp, then .png and .svg).
struct PaperFigure {
  std::string name;
  std::string caption;
  FigureFamily family;
  std::variant<LinePlot, HeatMap, ScatterPlot> plot;
};

// Figures 1 and 4: the run's FGM and PGD accuracy against eps, one line per attacked set.
std::vector<PaperFigure> accuracy_curves(const RunAnalysis& run, int pgd_steps);
// Figures 3 and 8a/b: eta over class pairs per modality, and each other modality's eta divided
// by the preferred one's. None without a certificate.
std::vector<PaperFigure> eta_maps(const RunAnalysis& run);
// Figures 6 and 8c: share of samples certified against uni-modal perturbations up to each radius.
// None without a certificate.
std::vector<PaperFigure> safe_share_curves(const RunAnalysis& run);
// Figure 7: the t-SNE of each modality's embeddings, coloured by class.
std::vector<PaperFigure> tsne_scatters(const RunAnalysis& run);
// --bound smoothing: certified accuracy against the radius, jointly and per modality, next to the
// run's Lipschitz certificate at the same radii.
std::vector<PaperFigure> smoothing_curves(const RunAnalysis& run);
// Figure 1's layout: one panel per attack and attacked set, one line per run (only for 2+ runs).
std::vector<PaperFigure> run_comparison_curves(const std::vector<RunAnalysis>& runs);

// All of the above in page order: each run's figures, then the comparisons. The PGD step count in
// titles is the first run's, like the tables'.
std::vector<PaperFigure> paper_figures(const std::vector<RunAnalysis>& runs);

}  // namespace crmt
