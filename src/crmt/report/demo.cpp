#include "crmt/report/demo.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "crmt/certify/certificate.h"
#include "crmt/core/atomic_file.h"
#include "crmt/eval/result_table.h"
#include "crmt/pipeline/experiment.h"
#include "crmt/report/report.h"

namespace crmt {

namespace {

struct Recipe {
  std::string name, method, head;
};

// The report's sweeps run on half the test samples and a short eps list, so that the whole demo
// stays under 10 minutes on two cores; `crmt report` on the checkpoints gives the full one.
ReportOptions demo_report(const DemoOptions& opt) {
  ReportOptions report;
  report.out_dir = opt.out + "/report";
  report.test_size = opt.test_size > 0 ? std::max<int64_t>(opt.test_size / 2, 1) : 1000;
  report.eps_list = {0, 0.5, 1, 1.5};
  report.tsne_samples = 300;
  report.lipschitz_samples = opt.lipschitz_samples;
  report.radii = {};
  return report;
}

// Certified accuracy at each radius and the vulnerability-indicator summary, below the evaluations.
void add_certificate_rows(Table& table, const std::vector<Certificate>& certificates, const std::vector<double>& radii) {
  const auto& modalities = certificates[0].modalities;
  for (size_t r = 0; r < radii.size(); ++r) {
    std::vector<std::string> row{fmt::format("certified acc r={:g} (empirical Lipschitz)", radii[r])};
    for (const auto& c : certificates) row.push_back(fmt::format("{:.2f}", 100 * c.certified_accuracy[r]));
    table.rows.push_back(row);
  }
  for (size_t m = 1; m < modalities.size(); ++m) {
    std::vector<std::string> row{fmt::format("eta ratio {}/{} (mean)", modalities[0], modalities[m])};
    for (const auto& c : certificates) row.push_back(format_number(c.eta_ratio(0, m), 3));
    table.rows.push_back(row);
  }
  std::vector<std::string> preferred{"preferred (most vulnerable) modality"};
  for (const auto& c : certificates) preferred.push_back(c.modalities[c.preferred_modality]);
  table.rows.push_back(preferred);
}

}  // namespace

DemoResult run_demo(const DemoOptions& opt) {
  const auto start = std::chrono::steady_clock::now();
  const std::vector<Recipe> recipes = {{"JT", "jt", "concat"}, {"CRMT-JT", "crmt_jt", "orthogonal"}};
  const auto report = demo_report(opt);
  std::vector<RunResults> runs;
  std::vector<Certificate> certificates;
  std::vector<RunAnalysis> analyses;
  for (const auto& recipe : recipes) {
    const auto config = Config::load(
        "", {"train.method=" + recipe.method, fmt::format("train.epochs={}", opt.epochs),
             fmt::format("data.root={}", opt.data_root), fmt::format("data.train_size={}", opt.train_size),
             fmt::format("data.test_size={}", opt.test_size), "output.dir=" + opt.out + "/" + recipe.method,
             "model.head=" + recipe.head, "device=" + opt.device});
    fmt::print(stderr, "== {}: training on {} samples for {} epochs\n", recipe.name,
               opt.train_size ? std::to_string(opt.train_size) : "all", opt.epochs);
    auto e = train_experiment(config, false);
    RunResults run{recipe.name, {}};
    for (const auto& c : standard_suite(e.data.test.modality_names(), opt.eps, 4))
      run.results.push_back(evaluate(e.net, e.data.test, c, config.integer("train.eval_batch_size"), true));
    runs.push_back(run);
    auto lipschitz = empirical_lipschitz(e.net, e.data.train, opt.lipschitz_samples);
    certificates.push_back(certify(e.net, e.data.test, lipschitz, opt.radii));
    fmt::print(stderr, "== {}: analysing for the report (sweeps, certificate, t-SNE)\n", recipe.name);
    analyses.push_back(analyze_run(recipe.name, e.training.best_checkpoint, e, report));
  }
  DemoResult result;
  result.table = results_table(runs);
  add_certificate_rows(result.table, certificates, opt.radii);
  namespace fs = std::filesystem;
  write_file_atomically((fs::path(opt.out) / "results.md").string(), result.table.to_markdown());
  auto json = results_json(runs);
  for (size_t i = 0; i < runs.size(); ++i) json[i]["certificate"] = certificate_json(certificates[i]);
  write_file_atomically((fs::path(opt.out) / "results.json").string(), json.dump(2) + "\n");
  result.index_html = write_report(analyses, report).index_html;
  result.minutes = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60;
  return result;
}

}  // namespace crmt
