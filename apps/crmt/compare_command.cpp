#include <algorithm>
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
#include "crmt/report/table.h"
#include "crmt/train/checkpoint.h"
#include "crmt/train/experiment.h"

namespace crmt::cli {

namespace {

namespace fs = std::filesystem;

struct CompareOptions {
  std::vector<std::string> configs, overrides;
  std::vector<int64_t> seeds = {0, 1, 2};
  std::string out = "runs/compare";
  double eps = 0.5;
  std::vector<double> radii = {0.05, 0.1};
  int64_t lipschitz_samples = 1000;
  int threads = 0;
};

std::string mean_std(const std::vector<double>& values) {
  double mean = 0, var = 0;
  for (double v : values) mean += v;
  mean /= values.size();
  for (double v : values) var += (v - mean) * (v - mean);
  const double sd = values.size() > 1 ? std::sqrt(var / (values.size() - 1)) : 0.0;
  return fmt::format("{:.2f} ± {:.2f}", 100 * mean, 100 * sd);
}

// What a finished run must agree on to be reused instead of retrained: the whole resolved config
// and the evaluation settings.
nlohmann::json run_key(const Config& config, const CompareOptions& opt) {
  return {{"config", config.to_yaml()}, {"eps", opt.eps}, {"radii", opt.radii}, {"lipschitz_samples", opt.lipschitz_samples}};
}

// Trains and evaluates one (config, seed); the record holds the row labels, accuracies and minutes.
nlohmann::json train_and_evaluate(const Config& config, const std::string& path, const std::string& name, int64_t seed,
                                  const CompareOptions& opt) {
  const auto start = std::chrono::steady_clock::now();
  // A run cut short leaves its last epoch checkpoint behind; resume from it when it was trained
  // with this very config, otherwise start over.
  const auto last = fs::path(config.str("output.dir")) / "last.pt";
  bool resume = false;
  try {
    resume = fs::exists(last) && read_checkpoint_info(last.string()).config_yaml == config.to_yaml();
  } catch (const Error& err) {
    fmt::print(stderr, "warning: {}; training from the start\n", err.what());
  }
  auto e = train_experiment(config, resume);
  RunResults run{name, {}};
  for (const auto& c : standard_suite(e.data.test.modality_names(), opt.eps, config.integer("eval.pgd_steps")))
    run.results.push_back(evaluate(e.net, e.data.test, c, config.integer("train.eval_batch_size"), true));
  std::vector<std::string> labels;
  std::vector<double> accuracies;
  for (const auto& r : run.results) {
    labels.push_back(r.evaluated.label());
    accuracies.push_back(r.accuracy);
  }
  nlohmann::json record = {{"config", path},
                            {"name", name},
                            {"method", config.str("train.method")},
                            {"seed", seed},
                            {"results", results_json({run})}};
  try {
    auto lipschitz = empirical_lipschitz(e.net, e.data.train, opt.lipschitz_samples);
    auto cert = certify(e.net, e.data.test, lipschitz, opt.radii);
    for (size_t r = 0; r < opt.radii.size(); ++r) {
      labels.push_back(fmt::format("certified acc r={:g} (empirical Lipschitz)", opt.radii[r]));
      accuracies.push_back(cert.certified_accuracy[r]);
    }
    record["certificate"] = certificate_json(cert);
  } catch (const Error& err) {
    fmt::print(stderr, "warning: {} has no certificate: {}\n", name, err.what());
  }
  record["labels"] = labels;
  record["accuracies"] = accuracies;
  record["minutes"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60;
  return record;
}

void write_atomically(const fs::path& path, const std::string& text) {
  const auto tmp = fs::path(path.string() + ".tmp");
  std::ofstream(tmp) << text;
  fs::rename(tmp, path);
}

// One evaluation column of the summary: its label and where each run keeps its accuracy.
struct Column {
  std::string label;
  size_t index;
};

// Multi-modal evaluations (clean, attacks on all modalities, certified accuracy) go to the layout of
// the paper's Table 1; attacks on one modality and missing modalities to that of Table 2.
bool is_unimodal(const std::string& label) {
  return label.rfind("missing ", 0) == 0 || (label.find(" on ") != std::string::npos && label.find(" on all") == std::string::npos);
}

// One row per method (mean ± std over seeds, in %), one column per evaluation of the chosen kind,
// and the mean wall time of one run.
Table summary_table(const std::vector<std::vector<nlohmann::json>>& records, bool unimodal) {
  std::vector<std::string> labels;
  for (const auto& method : records)
    for (const auto& r : method)
      if (r["labels"].size() > labels.size()) labels = r["labels"].get<std::vector<std::string>>();
  std::vector<Column> columns;
  for (size_t i = 0; i < labels.size(); ++i)
    if (is_unimodal(labels[i]) == unimodal) columns.push_back({labels[i], i});
  Table table;
  table.header = {"method (accuracy %, mean ± std over seeds)"};
  for (const auto& c : columns) table.header.push_back(c.label);
  table.header.push_back("min per run");
  for (const auto& method : records) {
    const auto& first = method.front();
    std::vector<std::string> row{first.value("name", first.value("method", std::string("?")))};
    for (const auto& c : columns) {
      std::vector<double> values;
      for (const auto& r : method)
        if (c.index < r["accuracies"].size()) values.push_back(r["accuracies"][c.index]);
      row.push_back(values.empty() ? "n/a" : mean_std(values));
    }
    // The median over seeds: one run slowed by other work on the machine does not move it.
    std::vector<double> minutes;
    for (const auto& r : method) minutes.push_back(r["minutes"].get<double>());
    std::sort(minutes.begin(), minutes.end());
    const size_t n = minutes.size();
    row.push_back(fmt::format("{:.1f}", n % 2 ? minutes[n / 2] : (minutes[n / 2 - 1] + minutes[n / 2]) / 2));
    table.rows.push_back(row);
  }
  return table;
}

std::string summary_markdown(const std::vector<std::vector<nlohmann::json>>& records, const std::string& seeds) {
  return fmt::format(
      "Seeds {}. Columns: accuracy in % (mean ± std over seeds); min per run = wall time of one run "
      "(train + evaluation, median over seeds), in minutes.\n\n### Multi-modal evaluations (layout of Table 1)\n\n{}\n"
      "### Uni-modal attacks and missing modalities (layout of Table 2)\n\n{}",
      seeds, summary_table(records, false).to_markdown(), summary_table(records, true).to_markdown());
}

}  // namespace

// Trains every config over several seeds and writes mean ± standard deviation of the paper's
// table (and certified accuracy) in one markdown/JSON file: the recipe behind docs/results.md.
// Each finished run is kept in <out>/<method>/seed<k>/compare_record.json and reused by a later
// call with the same resolved config, so an interrupted comparison continues where it stopped.
void add_compare_command(CLI::App& app) {
  auto* compare = app.add_subcommand("compare", "train several configs over seeds and tabulate robustness (mean ± std)");
  auto opt = std::make_shared<CompareOptions>();
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
    fs::create_directories(opt->out);
    std::vector<std::vector<nlohmann::json>> records;  // [config][seed]
    for (const auto& path : opt->configs) {
      std::vector<nlohmann::json> per_seed;
      for (auto seed : opt->seeds) {
        auto overrides = opt->overrides;
        overrides.push_back(fmt::format("seed={}", seed));
        // Runs are named by their config file, so two configs of one method stay apart.
        const auto name = fs::path(path).stem().string();
        const auto run_dir = fs::path(opt->out) / name / fmt::format("seed{}", seed);
        overrides.push_back("output.dir=" + run_dir.string());
        const auto config = Config::load(path, overrides);
        const auto key = run_key(config, *opt);
        const auto record_path = run_dir / "compare_record.json";
        nlohmann::json record;
        if (fs::exists(record_path)) {
          try {
            std::ifstream in(record_path);
            auto stored = nlohmann::json::parse(in);
            if (stored.value("key", nlohmann::json()) == key) record = stored;
          } catch (const nlohmann::json::exception&) {
            fmt::print(stderr, "warning: {}: unreadable record, training again\n", record_path.string());
          }
        }
        if (!record.is_null()) {
          fmt::print(stderr, "== {} seed {}: reusing the finished run in {}\n", name, seed, run_dir.string());
        } else {
          fmt::print(stderr, "== {} seed {} ({} thread(s))\n", name, seed, threads);
          record = train_and_evaluate(config, path, name, seed, *opt);
          record["key"] = key;
          write_atomically(record_path, record.dump(2) + "\n");
        }
        per_seed.push_back(record);
      }
      records.push_back(per_seed);
      // Rewritten after every config so that a long comparison shows its table as it goes.
      nlohmann::json raw = nlohmann::json::array();
      for (const auto& method : records)
        for (auto r : method) {
          r.erase("key");
          raw.push_back(r);
        }
      write_atomically(fs::path(opt->out) / "results.md", summary_markdown(records, fmt::format("{}", fmt::join(opt->seeds, ","))));
      write_atomically(fs::path(opt->out) / "results.json", raw.dump(2) + "\n");
    }
    fmt::print("{}\n{}\nseeds {}; written to {}/results.md and results.json\n", summary_table(records, false).to_text(),
               summary_table(records, true).to_text(), fmt::join(opt->seeds, ","), opt->out);
  });
}

}  // namespace crmt::cli
