#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "crmt/certify/certificate.h"
#include "crmt/core/error.h"
#include "crmt/core/runtime.h"
#include "crmt/eval/result_table.h"
#include "crmt/train/experiment.h"

namespace crmt::cli {

namespace {

std::string mean_std(const std::vector<double>& values) {
  double mean = 0, var = 0;
  for (double v : values) mean += v;
  mean /= values.size();
  for (double v : values) var += (v - mean) * (v - mean);
  const double sd = values.size() > 1 ? std::sqrt(var / (values.size() - 1)) : 0.0;
  return fmt::format("{:.2f} ± {:.2f}", 100 * mean, 100 * sd);
}

}  // namespace

// Trains every config over several seeds and writes mean ± standard deviation of the paper's
// table (and certified accuracy) in one markdown/JSON file: the recipe behind docs/results.md.
void add_compare_command(CLI::App& app) {
  auto* compare = app.add_subcommand("compare", "train several configs over seeds and tabulate robustness (mean ± std)");
  struct Options {
    std::vector<std::string> configs, overrides;
    std::vector<int64_t> seeds = {0, 1, 2};
    std::string out = "runs/compare";
    double eps = 0.5;
    std::vector<double> radii = {0.05, 0.1};
    int64_t lipschitz_samples = 1000;
    int threads = 0;
  };
  auto opt = std::make_shared<Options>();
  compare->add_option("--config", opt->configs, "experiment YAML, repeatable")->required()->check(CLI::ExistingFile);
  compare->add_option("--seeds", opt->seeds, "comma-separated seeds")->delimiter(',');
  compare->add_option("--out", opt->out, "output folder")->capture_default_str();
  compare->add_option("--eps", opt->eps, "l2 budget of FGM/PGD")->capture_default_str();
  compare->add_option("--radii", opt->radii, "radii for certified accuracy")->delimiter(',');
  compare->add_option("--lipschitz-samples", opt->lipschitz_samples, "samples for the empirical Lipschitz estimate")
      ->capture_default_str();
  compare->add_option("overrides", opt->overrides, "section.key=value applied to every config");
  add_threads_option(*compare, opt->threads);
  compare->callback([opt] {
    const int threads = configure_threads(opt->threads);
    if (opt->seeds.empty()) fail("--seeds needs at least one seed");
    std::vector<std::string> names, row_labels;
    std::vector<std::vector<std::vector<double>>> values;  // [config][row][seed]
    std::vector<double> minutes;
    nlohmann::json raw = nlohmann::json::array();
    for (const auto& path : opt->configs) {
      std::vector<std::vector<double>> per_row;
      auto start = std::chrono::steady_clock::now();
      std::string name;
      for (auto seed : opt->seeds) {
        auto overrides = opt->overrides;
        overrides.push_back(fmt::format("seed={}", seed));
        auto probe = Config::load(path, overrides);
        name = probe.str("train.method");
        overrides.push_back(fmt::format("output.dir={}/{}/seed{}", opt->out, name, seed));
        auto config = Config::load(path, overrides);
        fmt::print(stderr, "== {} seed {} ({} thread(s))\n", name, seed, threads);
        auto e = train_experiment(config, false);
        RunResults run{name, {}};
        for (const auto& c : standard_suite(e.data.test.modality_names(), opt->eps, config.integer("eval.pgd_steps")))
          run.results.push_back(evaluate(e.net, e.data.test, c, config.integer("train.eval_batch_size"), true));
        std::vector<double> row_values;
        std::vector<std::string> labels;
        for (const auto& r : run.results) {
          labels.push_back(r.evaluated.label());
          row_values.push_back(r.accuracy);
        }
        nlohmann::json record = {{"config", path}, {"method", name}, {"seed", seed}, {"results", results_json({run})}};
        try {
          auto lipschitz = empirical_lipschitz(e.net, e.data.train, opt->lipschitz_samples);
          auto cert = certify(e.net, e.data.test, lipschitz, opt->radii);
          for (size_t r = 0; r < opt->radii.size(); ++r) {
            labels.push_back(fmt::format("certified acc r={:g} (empirical Lipschitz)", opt->radii[r]));
            row_values.push_back(cert.certified_accuracy[r]);
          }
          record["certificate"] = certificate_json(cert);
        } catch (const Error& err) {
          fmt::print(stderr, "warning: {} has no certificate: {}\n", name, err.what());
        }
        raw.push_back(record);
        if (row_labels.empty() || labels.size() > row_labels.size()) row_labels = labels;
        if (per_row.empty()) per_row.resize(labels.size());
        for (size_t i = 0; i < row_values.size() && i < per_row.size(); ++i) per_row[i].push_back(row_values[i]);
      }
      names.push_back(name);
      values.push_back(per_row);
      minutes.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60 /
                        opt->seeds.size());
    }
    Table table;
    table.header = {"evaluation (accuracy %, mean ± std over seeds)"};
    for (const auto& n : names) table.header.push_back(n);
    for (size_t i = 0; i < row_labels.size(); ++i) {
      std::vector<std::string> row{row_labels[i]};
      for (const auto& v : values) row.push_back(i < v.size() && !v[i].empty() ? mean_std(v[i]) : "n/a");
      table.rows.push_back(row);
    }
    std::vector<std::string> timing{"wall time per run (min, train + eval)"};
    for (double m : minutes) timing.push_back(fmt::format("{:.1f}", m));
    table.rows.push_back(timing);
    std::filesystem::create_directories(opt->out);
    std::ofstream(std::filesystem::path(opt->out) / "results.md") << table.to_markdown();
    std::ofstream(std::filesystem::path(opt->out) / "results.json") << raw.dump(2) << "\n";
    fmt::print("{}\nseeds {}; written to {}/results.md and results.json\n", table.to_text(), fmt::join(opt->seeds, ","),
               opt->out);
  });
}

}  // namespace crmt::cli
