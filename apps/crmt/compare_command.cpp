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
  double eps = 0.5, unimodal_eps = 1.0;
  std::vector<double> radii = {0.05, 0.1};
  int64_t lipschitz_samples = 1000;
  int threads = 0;
};

std::string mean_std(const std::vector<double>& values) {
  double mean = 0, var = 0;
  for (double v : values) mean += v;
  mean /= values.size();
  for (double v : values) var += (v - mean) * (v - mean);
  if (values.size() == 1) return fmt::format("{:.2f}", 100 * mean);  // one seed: no spread to show
  const double sd = std::sqrt(var / (values.size() - 1));
  return fmt::format("{:.2f} ± {:.2f}", 100 * mean, 100 * sd);
}

std::string certified_label(double radius) {
  return fmt::format("certified acc r={:g} (empirical Lipschitz)", radius);
}

// The modality names of a record, in order (from its "missing <name>" rows when it predates the
// "modalities" field).
std::vector<std::string> modalities_of(const nlohmann::json& record) {
  if (record.contains("modalities")) return record["modalities"].get<std::vector<std::string>>();
  std::vector<std::string> names;
  for (const auto& label : record["labels"]) {
    const auto text = label.get<std::string>();
    if (text.rfind("missing ", 0) == 0) names.push_back(text.substr(8));
  }
  return names;
}

// The table's evaluations: clean, FGM and PGD at eps on all modalities, at unimodal_eps on each one
// (the paper uses 0.5 and 1.0), each modality missing, then certified accuracy at each radius.
std::vector<EvalCase> compare_suite(const std::vector<std::string>& modalities, const CompareOptions& opt, int steps) {
  return standard_suite(modalities, opt.eps, steps, opt.unimodal_eps);
}

std::vector<std::string> display_labels(const std::vector<std::string>& modalities, const CompareOptions& opt) {
  std::vector<std::string> labels;
  for (const auto& c : compare_suite(modalities, opt, 1)) labels.push_back(c.label());
  for (double r : opt.radii) labels.push_back(certified_label(r));
  return labels;
}

int find_label(const nlohmann::json& record, const std::string& label) {
  const auto& labels = record["labels"];
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] == label) return static_cast<int>(i);
  return -1;
}

void set_accuracy(nlohmann::json& record, const std::string& label, double accuracy) {
  const int i = find_label(record, label);
  if (i >= 0) {
    record["accuracies"][i] = accuracy;
  } else {
    record["labels"].push_back(label);
    record["accuracies"].push_back(accuracy);
  }
}

// Whether the record lacks an evaluation of the table (or has certificates from another number of
// Lipschitz samples).
bool incomplete(const nlohmann::json& record, const CompareOptions& opt) {
  for (const auto& label : display_labels(modalities_of(record), opt))
    if (find_label(record, label) < 0) return true;
  return record.value("lipschitz_samples", int64_t{-1}) != opt.lipschitz_samples;
}

// Adds to the record every evaluation of the table it lacks, on the trained `net`; adds the time
// spent to its minutes.
void complete_record(nlohmann::json& record, MultiModalNet& net, const DataSplits& data, const Config& config,
                     const CompareOptions& opt) {
  const auto start = std::chrono::steady_clock::now();
  const auto modalities = data.test.modality_names();
  record["modalities"] = modalities;
  for (const auto& c : compare_suite(modalities, opt, static_cast<int>(config.integer("eval.pgd_steps"))))
    if (find_label(record, c.label()) < 0)
      set_accuracy(record, c.label(), evaluate(net, data.test, c, config.integer("train.eval_batch_size"), true).accuracy);
  bool certified = record.value("lipschitz_samples", int64_t{-1}) == opt.lipschitz_samples;
  for (double r : opt.radii) certified = certified && find_label(record, certified_label(r)) >= 0;
  if (!certified) {
    try {
      auto lipschitz = empirical_lipschitz(net, data.train, opt.lipschitz_samples);
      auto cert = certify(net, data.test, lipschitz, opt.radii);
      for (size_t r = 0; r < opt.radii.size(); ++r) set_accuracy(record, certified_label(opt.radii[r]), cert.certified_accuracy[r]);
      record["certificate"] = certificate_json(cert);
      record["lipschitz_samples"] = opt.lipschitz_samples;
    } catch (const Error& err) {
      fmt::print(stderr, "warning: {} has no certificate: {}\n", record["name"].get<std::string>(), err.what());
    }
  }
  record["minutes"] = record.value("minutes", 0.0) +
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60;
}

// Trains one (config, seed) and evaluates it; the record holds the row labels, accuracies and the
// minutes of training and evaluation.
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
  nlohmann::json record = {{"config", path},
                           {"name", name},
                           {"method", config.str("train.method")},
                           {"seed", seed},
                           {"config_yaml", config.to_yaml()},
                           {"labels", nlohmann::json::array()},
                           {"accuracies", nlohmann::json::array()}};
  record["minutes"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60;
  complete_record(record, e.net, e.data, config, opt);
  return record;
}

// The stored record of a run trained with this very config, or null.
nlohmann::json stored_record(const fs::path& path, const Config& config) {
  if (!fs::exists(path)) return nullptr;
  try {
    std::ifstream in(path);
    auto stored = nlohmann::json::parse(in);
    // Records of earlier versions kept the config inside "key".
    const auto yaml = stored.contains("config_yaml") ? stored["config_yaml"] : stored.value("key", nlohmann::json())["config"];
    if (yaml == config.to_yaml()) return stored;
  } catch (const nlohmann::json::exception&) {
    fmt::print(stderr, "warning: {}: unreadable record, training again\n", path.string());
  }
  return nullptr;
}

void write_atomically(const fs::path& path, const std::string& text) {
  const auto tmp = fs::path(path.string() + ".tmp");
  std::ofstream(tmp) << text;
  fs::rename(tmp, path);
}

// Multi-modal evaluations (clean, attacks on all modalities, certified accuracy) go to the layout of
// the paper's Table 1; attacks on one modality and missing modalities to that of Table 2.
bool is_unimodal(const std::string& label) {
  return label.rfind("missing ", 0) == 0 || (label.find(" on ") != std::string::npos && label.find(" on all") == std::string::npos);
}

// One row per method (mean ± std over seeds, in %), one column per evaluation of the chosen kind,
// and the mean wall time of one run.
Table summary_table(const std::vector<std::vector<nlohmann::json>>& records, const CompareOptions& opt, bool unimodal) {
  std::vector<std::string> labels;
  for (const auto& method : records)
    for (const auto& r : method)
      if (auto mine = display_labels(modalities_of(r), opt); mine.size() > labels.size()) labels = mine;
  std::vector<std::string> columns;
  for (const auto& label : labels)
    if (is_unimodal(label) == unimodal) columns.push_back(label);
  Table table;
  table.header = {"method (accuracy %, mean ± std over seeds)"};
  for (const auto& c : columns) table.header.push_back(c);
  table.header.push_back("min per run");
  for (const auto& method : records) {
    const auto& first = method.front();
    std::vector<std::string> row{first.value("name", first.value("method", std::string("?")))};
    for (const auto& c : columns) {
      std::vector<double> values;
      for (const auto& r : method)
        if (const int i = find_label(r, c); i >= 0) values.push_back(r["accuracies"][i]);
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

std::string summary_markdown(const std::vector<std::vector<nlohmann::json>>& records, const CompareOptions& opt) {
  return fmt::format(
      "Seeds {}. Columns: accuracy in % (mean ± std over seeds); min per run = wall time of one run "
      "(train + evaluation, median over seeds), in minutes.\n\n### Multi-modal evaluations (layout of Table 1)\n\n{}\n"
      "### Uni-modal attacks and missing modalities (layout of Table 2)\n\n{}",
      fmt::join(opt.seeds, ","), summary_table(records, opt, false).to_markdown(),
      summary_table(records, opt, true).to_markdown());
}

}  // namespace

// Trains every config over several seeds and writes mean ± standard deviation of the paper's
// table (and certified accuracy) in one markdown/JSON file: the recipe behind docs/results.md.
// Each finished run is kept in <out>/<config name>/seed<k>/compare_record.json and reused by a later
// call with the same resolved config, so an interrupted comparison continues where it stopped; an
// evaluation the record lacks (another eps, radius, ...) is added from the run's best.pt without
// training again.
void add_compare_command(CLI::App& app) {
  auto* compare = app.add_subcommand("compare", "train several configs over seeds and tabulate robustness (mean ± std)");
  auto opt = std::make_shared<CompareOptions>();
  compare->add_option("--config", opt->configs, "experiment YAML, repeatable")->required()->check(CLI::ExistingFile);
  compare->add_option("--seeds", opt->seeds, "comma-separated seeds")->delimiter(',');
  compare->add_option("--out", opt->out, "output folder")->capture_default_str();
  compare->add_option("--eps", opt->eps, "l2 budget of FGM/PGD on all modalities")->capture_default_str();
  compare->add_option("--unimodal-eps", opt->unimodal_eps, "l2 budget of FGM/PGD on one modality (paper: 1.0)")
      ->capture_default_str();
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
        const auto record_path = run_dir / "compare_record.json";
        auto record = stored_record(record_path, config);
        if (record.is_null()) {
          fmt::print(stderr, "== {} seed {} ({} thread(s))\n", name, seed, threads);
          record = train_and_evaluate(config, path, name, seed, *opt);
          write_atomically(record_path, record.dump(2) + "\n");
        } else if (incomplete(record, *opt)) {
          fmt::print(stderr, "== {} seed {}: trained; adding the missing evaluations\n", name, seed);
          auto e = load_experiment((run_dir / "best.pt").string(), {});
          complete_record(record, e.net, e.data, config, *opt);
          write_atomically(record_path, record.dump(2) + "\n");
        } else {
          fmt::print(stderr, "== {} seed {}: reusing the finished run in {}\n", name, seed, run_dir.string());
        }
        per_seed.push_back(record);
      }
      records.push_back(per_seed);
      // Rewritten after every config so that a long comparison shows its table as it goes.
      nlohmann::json raw = nlohmann::json::array();
      for (const auto& method : records)
        for (auto r : method) {
          r.erase("key");
          r.erase("config_yaml");
          raw.push_back(r);
        }
      write_atomically(fs::path(opt->out) / "results.md", summary_markdown(records, *opt));
      write_atomically(fs::path(opt->out) / "results.json", raw.dump(2) + "\n");
    }
    fmt::print("{}\n{}\nseeds {}; written to {}/results.md and results.json\n", summary_table(records, *opt, false).to_text(),
               summary_table(records, *opt, true).to_text(), fmt::join(opt->seeds, ","), opt->out);
  });
}

}  // namespace crmt::cli
