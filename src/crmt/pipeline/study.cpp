#include "crmt/pipeline/study.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "crmt/certify/certificate.h"
#include "crmt/core/atomic_file.h"
#include "crmt/core/error.h"
#include "crmt/pipeline/experiment.h"
#include "crmt/train/checkpoint.h"

namespace crmt {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double minutes_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count() / 60;
}

std::string certified_label(double radius) { return fmt::format("certified acc r={:g} (empirical Lipschitz)", radius); }

// The same resolved config, whatever order or crmt version wrote the YAML text.
bool same_config(const std::string& stored_yaml, const Config& config) {
  try {
    return Config::from_string(stored_yaml, "stored config", /*strict=*/false).to_yaml() == config.to_yaml();
  } catch (const Error&) {
    return false;
  }
}

nlohmann::json case_to_json(const EvalCase& c) {
  return {{"attack", c.attack.kind}, {"strength", c.attack.eps}, {"steps", c.attack.steps}, {"seed", c.attack.seed},
          {"modality", c.modality}};
}

EvalCase case_from_json(const nlohmann::json& j) {
  EvalCase c;
  c.attack.kind = j.at("attack").get<std::string>();
  c.attack.eps = j.at("strength").get<double>();
  c.attack.steps = j.at("steps").get<int>();
  c.attack.seed = j.at("seed").get<uint64_t>();
  c.modality = j.at("modality").get<std::string>();
  return c;
}

// Adds every evaluation of the table the record lacks, on the trained `net`, and the time spent.
void complete_record(RunRecord& record, MultiModalNet& net, const DataSplits& data, const Config& config,
                     const StudyOptions& opt) {
  const auto start = Clock::now();
  record.modalities = data.test.modality_names();
  record.pgd_steps = static_cast<int>(config.integer("eval.pgd_steps"));
  const int64_t batch_size = config.integer("train.eval_batch_size");
  for (const auto& c : study_suite(record.modalities, opt, record.pgd_steps))
    if (!record.accuracy(c)) record.evaluations.push_back({c, evaluate(net, data.test, c, batch_size, opt.progress).accuracy});
  bool certified = record.lipschitz_samples == opt.lipschitz_samples;
  for (double r : opt.radii) certified = certified && record.certified_accuracy(r).has_value();
  if (!certified) {
    try {
      net->require_late_fusion("a certified radius");  // before the Lipschitz estimate it would waste
      auto lipschitz = empirical_lipschitz(net, data.train, opt.lipschitz_samples);
      auto cert = certify(net, data.test, lipschitz, opt.radii);
      record.certified.clear();
      for (size_t r = 0; r < opt.radii.size(); ++r) record.certified.push_back({opt.radii[r], cert.certified_accuracy[r]});
      record.certificate = certificate_json(cert);
      record.lipschitz_samples = opt.lipschitz_samples;
    } catch (const Error& err) {
      fmt::print(stderr, "warning: {} seed {} has no certificate: {}\n", record.name, record.seed, err.what());
    }
  }
  record.minutes += minutes_since(start);
}

// Whether the record lacks an evaluation of the table (or has certificates from another number of
// Lipschitz samples).
bool incomplete(const RunRecord& record, const StudyOptions& opt) {
  for (const auto& c : study_suite(record.modalities, opt, record.pgd_steps))
    if (!record.accuracy(c)) return true;
  for (double r : opt.radii)
    if (!record.certified_accuracy(r)) return true;
  return record.lipschitz_samples != opt.lipschitz_samples;
}

// Trains one (config, seed), resuming a run cut short with this very config, and evaluates it.
RunRecord train_and_evaluate(const Config& config, const std::string& path, int64_t seed, const StudyOptions& opt) {
  const auto start = Clock::now();
  const auto last = fs::path(config.str("output.dir")) / "last.pt";
  bool resume = false;
  try {
    resume = fs::exists(last) && same_config(read_checkpoint_info(last.string()).config_yaml, config);
  } catch (const Error& err) {
    fmt::print(stderr, "warning: {}; training from the start\n", err.what());
  }
  auto e = train_experiment(config, resume);
  RunRecord record;
  record.config = path;
  record.name = fs::path(path).stem().string();
  record.method = config.str("train.method");
  record.seed = seed;
  record.config_yaml = config.to_yaml();
  record.minutes = minutes_since(start);
  complete_record(record, e.net, e.data, config, opt);
  return record;
}

// The stored record at `path` when it was trained with this very config. A record of an earlier
// crmt (display labels instead of typed evaluations) keeps its run but has its evaluations redone.
std::optional<RunRecord> stored_record(const fs::path& path, const Config& config) {
  if (!fs::exists(path)) return std::nullopt;
  try {
    std::ifstream in(path);
    auto json = nlohmann::json::parse(in);
    if (json.contains("labels")) {
      if (!same_config(json.value("config_yaml", std::string()), config)) return std::nullopt;
      RunRecord old;
      old.config = json.value("config", std::string());
      old.name = json.value("name", std::string());
      old.method = json.value("method", std::string());
      old.seed = json.value("seed", int64_t{0});
      old.config_yaml = config.to_yaml();
      old.minutes = json.value("minutes", 0.0);
      return old;
    }
    auto record = record_from_json(json, path.string());
    if (same_config(record.config_yaml, config)) return record;
  } catch (const std::exception& err) {
    fmt::print(stderr, "warning: {}: unreadable record ({}), training again\n", path.string(), err.what());
  }
  return std::nullopt;
}

bool is_unimodal(const EvalCase& c) { return c.modality != "all"; }

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

void write_results(const std::vector<std::vector<RunRecord>>& records, const StudyOptions& opt) {
  nlohmann::json raw = nlohmann::json::array();
  for (const auto& runs : records)
    for (const auto& r : runs) {
      auto j = record_to_json(r);
      j.erase("config_yaml");
      raw.push_back(j);
    }
  write_file_atomically((fs::path(opt.out) / "results.md").string(), study_markdown(records, opt));
  write_file_atomically((fs::path(opt.out) / "results.json").string(), raw.dump(2) + "\n");
}

}  // namespace

std::optional<double> RunRecord::accuracy(const EvalCase& c) const {
  for (const auto& e : evaluations)
    if (e.evaluated.same_as(c)) return e.accuracy;
  return std::nullopt;
}

std::optional<double> RunRecord::suite_accuracy(const EvalCase& column) const {
  auto own = column;
  own.attack.steps = pgd_steps;
  return accuracy(own);
}

std::optional<double> RunRecord::certified_accuracy(double radius) const {
  for (const auto& c : certified)
    if (c.radius == radius) return c.accuracy;
  return std::nullopt;
}

nlohmann::json record_to_json(const RunRecord& r) {
  nlohmann::json evaluations = nlohmann::json::array();
  for (const auto& e : r.evaluations) {
    auto j = case_to_json(e.evaluated);
    j["label"] = e.evaluated.label();  // for people reading the file; never parsed back
    j["accuracy"] = e.accuracy;
    evaluations.push_back(j);
  }
  nlohmann::json certified = nlohmann::json::array();
  for (const auto& c : r.certified) certified.push_back({{"radius", c.radius}, {"accuracy", c.accuracy}});
  return {{"format", "crmt-study-record-2"},
          {"config", r.config},
          {"name", r.name},
          {"method", r.method},
          {"seed", r.seed},
          {"config_yaml", r.config_yaml},
          {"modalities", r.modalities},
          {"pgd_steps", r.pgd_steps},
          {"evaluations", evaluations},
          {"certified", certified},
          {"lipschitz_samples", r.lipschitz_samples},
          {"certificate", r.certificate},
          {"minutes", r.minutes}};
}

RunRecord record_from_json(const nlohmann::json& j, const std::string& origin) {
  try {
    RunRecord r;
    r.config = j.at("config").get<std::string>();
    r.name = j.at("name").get<std::string>();
    r.method = j.at("method").get<std::string>();
    r.seed = j.at("seed").get<int64_t>();
    r.config_yaml = j.at("config_yaml").get<std::string>();
    r.modalities = j.at("modalities").get<std::vector<std::string>>();
    r.pgd_steps = j.at("pgd_steps").get<int>();
    for (const auto& e : j.at("evaluations")) r.evaluations.push_back({case_from_json(e), e.at("accuracy").get<double>()});
    for (const auto& c : j.at("certified")) r.certified.push_back({c.at("radius").get<double>(), c.at("accuracy").get<double>()});
    r.lipschitz_samples = j.at("lipschitz_samples").get<int64_t>();
    r.certificate = j.at("certificate");
    r.minutes = j.at("minutes").get<double>();
    return r;
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not a crmt study record: {}", origin, e.what());
  }
}

std::vector<EvalCase> study_suite(const std::vector<std::string>& modalities, const StudyOptions& opt, int pgd_steps) {
  return standard_suite(modalities, opt.eps, pgd_steps, opt.unimodal_eps);
}

std::string mean_std(const std::vector<double>& values) {
  if (values.empty()) fail("mean_std needs at least one value");
  double mean = 0, var = 0;
  for (double v : values) mean += v;
  mean /= values.size();
  for (double v : values) var += (v - mean) * (v - mean);
  if (values.size() == 1) return fmt::format("{:.2f}", 100 * mean);  // one seed: no spread to show
  const double sd = std::sqrt(var / (values.size() - 1));
  return fmt::format("{:.2f} ± {:.2f}", 100 * mean, 100 * sd);
}

Table study_table(const std::vector<std::vector<RunRecord>>& records, const StudyOptions& opt, bool unimodal) {
  // The columns: the suite of the record with the most modalities.
  std::vector<std::string> modalities;
  for (const auto& runs : records)
    for (const auto& r : runs)
      if (r.modalities.size() > modalities.size()) modalities = r.modalities;
  std::vector<EvalCase> columns;
  for (const auto& c : study_suite(modalities, opt, 1))
    if (is_unimodal(c) == unimodal) columns.push_back(c);
  Table table;
  table.header = {"method (accuracy %, mean ± std over seeds)"};
  for (const auto& c : columns) table.header.push_back(c.label());
  if (!unimodal)
    for (double r : opt.radii) table.header.push_back(certified_label(r));
  table.header.push_back("min per run");
  auto cell = [](std::vector<double> values) { return values.empty() ? std::string("n/a") : mean_std(values); };
  for (const auto& runs : records) {
    std::vector<std::string> row{runs.front().name.empty() ? runs.front().method : runs.front().name};
    for (const auto& c : columns) {
      std::vector<double> values;
      for (const auto& r : runs)
        if (auto a = r.suite_accuracy(c)) values.push_back(*a);
      row.push_back(cell(values));
    }
    if (!unimodal)
      for (double radius : opt.radii) {
        std::vector<double> values;
        for (const auto& r : runs)
          if (auto a = r.certified_accuracy(radius)) values.push_back(*a);
        row.push_back(cell(values));
      }
    // The median over seeds: one run slowed by other work on the machine does not move it.
    std::vector<double> minutes;
    for (const auto& r : runs) minutes.push_back(r.minutes);
    row.push_back(fmt::format("{:.1f}", median(minutes)));
    table.rows.push_back(row);
  }
  return table;
}

std::string study_markdown(const std::vector<std::vector<RunRecord>>& records, const StudyOptions& opt) {
  return fmt::format(
      "Seeds {}. Columns: accuracy in % (mean ± std over seeds); min per run = wall time of one run "
      "(train + evaluation, median over seeds), in minutes.\n\n### Multi-modal evaluations (layout of Table 1)\n\n{}\n"
      "### Uni-modal attacks and missing modalities (layout of Table 2)\n\n{}",
      fmt::join(opt.seeds, ","), study_table(records, opt, false).to_markdown(), study_table(records, opt, true).to_markdown());
}

std::vector<std::vector<RunRecord>> run_study(const StudyOptions& opt) {
  if (opt.configs.empty()) fail("a study needs at least one config");
  if (opt.seeds.empty()) fail("a study needs at least one seed");
  std::vector<std::vector<RunRecord>> records;  // [config][seed]
  for (const auto& path : opt.configs) {
    std::vector<RunRecord> runs;
    const auto name = fs::path(path).stem().string();  // two configs of one method stay apart
    for (auto seed : opt.seeds) {
      auto overrides = opt.overrides;
      overrides.push_back(fmt::format("seed={}", seed));
      const auto run_dir = fs::path(opt.out) / name / fmt::format("seed{}", seed);
      overrides.push_back("output.dir=" + run_dir.string());
      const auto config = Config::load(path, overrides);
      const auto record_path = (run_dir / "compare_record.json").string();
      auto record = stored_record(record_path, config);
      if (!record) {
        fmt::print(stderr, "== {} seed {}\n", name, seed);
        record = train_and_evaluate(config, path, seed, opt);
        write_file_atomically(record_path, record_to_json(*record).dump(2) + "\n");
      } else if (incomplete(*record, opt)) {
        fmt::print(stderr, "== {} seed {}: trained; adding the missing evaluations\n", name, seed);
        auto e = load_experiment((run_dir / "best.pt").string(), {});
        complete_record(*record, e.net, e.data, config, opt);
        write_file_atomically(record_path, record_to_json(*record).dump(2) + "\n");
      } else {
        fmt::print(stderr, "== {} seed {}: reusing the finished run in {}\n", name, seed, run_dir.string());
      }
      runs.push_back(*record);
    }
    records.push_back(runs);
    // Rewritten after every config so that a long study shows its table as it goes.
    write_results(records, opt);
  }
  return records;
}

}  // namespace crmt
