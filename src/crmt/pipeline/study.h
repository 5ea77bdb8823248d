#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "crmt/core/table.h"
#include "crmt/eval/evaluator.h"

namespace crmt {

// A study: several configs, each trained over several seeds, every run evaluated on the paper's
// table (clean; FGM/PGD on all modalities at eps and on each at unimodal_eps; each modality missing)
// and certified at some radii. Mean ± std over seeds per config: the recipe behind docs/results.md.
struct StudyOptions {
  std::vector<std::string> configs;    // YAML files; a run is named by its file's stem
  std::vector<std::string> overrides;  // section.key=value applied to every config
  std::vector<int64_t> seeds = {0, 1, 2};
  std::string out = "runs/compare";
  double eps = 0.5, unimodal_eps = 1.0;
  std::vector<double> radii = {0.05, 0.1};
  int64_t lipschitz_samples = 1000;
  bool progress = true;
};

// One evaluation of a run, keyed by what was evaluated (not by its display label).
struct RecordedAccuracy {
  EvalCase evaluated;
  double accuracy = 0;
};

// Certified accuracy at a radius, with empirical Lipschitz constants from `lipschitz_samples`.
struct RecordedCertificate {
  double radius = 0;
  double accuracy = 0;
};

// Everything a study keeps about one (config, seed) run, in <out>/<name>/seed<k>/compare_record.json.
struct RunRecord {
  std::string config;       // the YAML file
  std::string name;         // its stem
  std::string method;
  int64_t seed = 0;
  std::string config_yaml;  // the resolved config: a rerun reuses the record only for the same one
  std::vector<std::string> modalities;
  int pgd_steps = 4;  // eval.pgd_steps of the config: the iterations of its suite's attacks
  std::vector<RecordedAccuracy> evaluations;
  std::vector<RecordedCertificate> certified;
  int64_t lipschitz_samples = -1;  // -1: no certificate yet
  nlohmann::json certificate;      // certificate_json() of the run (null when none)
  double minutes = 0;              // training plus evaluation

  std::optional<double> accuracy(const EvalCase& c) const;
  // The accuracy of a suite column (attack, strength, modality) at this run's own pgd_steps.
  std::optional<double> suite_accuracy(const EvalCase& column) const;
  std::optional<double> certified_accuracy(double radius) const;
};

nlohmann::json record_to_json(const RunRecord& record);
// Throws crmt::Error naming `origin` when a field is missing or of the wrong type.
RunRecord record_from_json(const nlohmann::json& json, const std::string& origin);

// The evaluations of the study's table for a run with these modalities.
std::vector<EvalCase> study_suite(const std::vector<std::string>& modalities, const StudyOptions& options, int pgd_steps);

// Trains what is missing, evaluates what records lack, and rewrites <out>/results.md and
// results.json after every config. Resumable: finished runs are reused, a run cut short resumes
// from its last.pt when that was trained with the same config. Returns records [config][seed].
std::vector<std::vector<RunRecord>> run_study(const StudyOptions& options);

// One row per config (mean ± std over seeds, in %), one column per evaluation: multi-modal ones
// (the layout of the paper's Table 1) or those on one modality (Table 2); last, the median minutes.
Table study_table(const std::vector<std::vector<RunRecord>>& records, const StudyOptions& options, bool unimodal);
std::string study_markdown(const std::vector<std::vector<RunRecord>>& records, const StudyOptions& options);

// "75.83 ± 0.91" (in %, sample standard deviation); one value prints no spread.
std::string mean_std(const std::vector<double>& values);

}  // namespace crmt
