#include <chrono>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "crmt/certify/certificate.h"
#include "crmt/core/runtime.h"
#include "crmt/eval/result_table.h"
#include "crmt/report/report.h"
#include "crmt/pipeline/experiment.h"

namespace crmt::cli {

void add_demo_command(CLI::App& app) {
  auto* demo = app.add_subcommand("demo", "prepare the embedded data, train JT and CRMT-JT, and print their robustness and certificates");
  struct Options {
    std::string out = "runs/demo", data_root = "data/embedded";
    int64_t epochs = 4, train_size = 20000, test_size = 2000, lipschitz_samples = 1000;
    double eps = 0.5;
    std::vector<double> radii = {0.05, 0.1};
    int threads = 0;
  };
  auto opt = std::make_shared<Options>();
  demo->add_option("--out", opt->out, "output folder")->capture_default_str();
  demo->add_option("--data-root", opt->data_root, "embedded dataset folder")->capture_default_str();
  demo->add_option("--epochs", opt->epochs, "training epochs per method")->capture_default_str();
  demo->add_option("--train-size", opt->train_size, "training samples (0 = all 60000)")->capture_default_str();
  demo->add_option("--test-size", opt->test_size, "test samples evaluated (0 = all 10000)")->capture_default_str();
  demo->add_option("--eps", opt->eps, "l2 attack budget")->capture_default_str();
  demo->add_option("--radii", opt->radii, "two radii at which certified accuracy is reported")->delimiter(',')->expected(2);
  demo->add_option("--lipschitz-samples", opt->lipschitz_samples, "training samples for the empirical Lipschitz estimate")
      ->capture_default_str();
  add_threads_option(*demo, opt->threads);
  demo->callback([opt] {
    int threads = configure_threads(opt->threads);
    auto start = std::chrono::steady_clock::now();
    std::vector<RunResults> runs;
    struct Recipe {
      std::string name, method;
      std::vector<std::string> settings;
    };
    const std::vector<Recipe> recipes = {{"JT", "jt", {"model.head=concat"}},
                                         {"CRMT-JT", "crmt_jt", {"model.head=orthogonal"}}};
    std::vector<Certificate> certificates;
    std::vector<RunAnalysis> analyses;
    ReportOptions report;
    report.out_dir = opt->out + "/report";
    // The report's sweeps run on half the test samples and a short eps list, so that the whole
    // demo stays under 10 minutes on two cores; `crmt report` on the checkpoints gives the full one.
    report.test_size = opt->test_size > 0 ? std::max<int64_t>(opt->test_size / 2, 1) : 1000;
    report.eps_list = {0, 0.5, 1, 1.5};
    report.tsne_samples = 300;
    report.lipschitz_samples = opt->lipschitz_samples;
    report.radii = {};
    for (const auto& recipe : recipes) {
      std::vector<std::string> overrides = {
          "train.method=" + recipe.method, fmt::format("train.epochs={}", opt->epochs),
          fmt::format("data.root={}", opt->data_root), fmt::format("data.train_size={}", opt->train_size),
          fmt::format("data.test_size={}", opt->test_size), "output.dir=" + opt->out + "/" + recipe.method};
      overrides.insert(overrides.end(), recipe.settings.begin(), recipe.settings.end());
      auto config = Config::load("", overrides);
      fmt::print(stderr, "== {}: training on {} samples for {} epochs with {} thread(s)\n", recipe.name,
                 opt->train_size ? std::to_string(opt->train_size) : "all", opt->epochs, threads);
      auto e = train_experiment(config, false);
      RunResults run{recipe.name, {}};
      for (const auto& c : standard_suite(e.data.test.modality_names(), opt->eps, 4))
        run.results.push_back(evaluate(e.net, e.data.test, c, config.integer("train.eval_batch_size"), true));
      runs.push_back(run);
      auto lipschitz = empirical_lipschitz(e.net, e.data.train, opt->lipschitz_samples);
      certificates.push_back(certify(e.net, e.data.test, lipschitz, opt->radii));
      fmt::print(stderr, "== {}: analysing for the report (sweeps, certificate, t-SNE)\n", recipe.name);
      analyses.push_back(analyze_run(recipe.name, e.training.best_checkpoint, e, report));
    }
    auto table = results_table(runs);
    // Certificates: certified accuracy at the two radii and the vulnerability-indicator summary.
    const auto& modalities = certificates[0].modalities;
    for (size_t r = 0; r < opt->radii.size(); ++r) {
      std::vector<std::string> row{fmt::format("certified acc r={:g} (empirical Lipschitz)", opt->radii[r])};
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
    std::filesystem::create_directories(opt->out);
    std::ofstream(std::filesystem::path(opt->out) / "results.md") << table.to_markdown();
    auto json = results_json(runs);
    for (size_t i = 0; i < runs.size(); ++i) json[i]["certificate"] = certificate_json(certificates[i]);
    std::ofstream(std::filesystem::path(opt->out) / "results.json") << json.dump(2) << "\n";
    auto summary = write_report(analyses, report);
    double minutes = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60;
    fmt::print("\nAccuracy (%) on {} test samples of the embedded audio-visual set, l2 eps {} in normalized input space\n\n{}\n"
               "written to {}/results.md and results.json; report with figures: {} ({:.1f} min)\n",
               opt->test_size ? std::to_string(opt->test_size) : "all", opt->eps, table.to_text(), opt->out,
               summary.index_html, minutes);
  });
}

}  // namespace crmt::cli
