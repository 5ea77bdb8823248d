// Training killed with SIGKILL at random moments (inside an epoch, while a checkpoint is written,
// inside CRMT's step 2, after the final stage) and resumed with --resume ends with the same weights
// and metrics as a run that was never interrupted; so does `crmt compare`, killed anywhere in its
// runs or evaluations and started again.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "crmt/pipeline/experiment.h"
#include "test_util.h"

namespace crmt {
namespace {

namespace fs = std::filesystem;

// CRMT-JT on synthetic clusters: epochs with checkpoints, then the Lipschitz estimate and step 2;
// with `official`, as configs/crmt_jt_official.yaml runs it (step 2 from last.pt, its epochs
// competing for best.pt) followed by batch-norm re-estimation.
std::vector<std::string> train_args(const fs::path& out, bool official = false) {
  std::vector<std::string> args{"train",
          "data.name=synthetic",
          "data.synthetic.samples=6000",
          "model.encoder=mlp",
          "model.head=orthogonal",
          "train.method=crmt_jt",
          "train.epochs=4",
          "crmt.step2_epochs=3",
          "crmt.lipschitz_samples=500",
          "output.progress=false",
          "--threads",
          "1",
          "output.dir=" + out.string()};
  if (official)
    for (const char* a : {"model.head=orthogonal_official", "crmt.step2_batch_norm=train", "crmt.lipschitz_estimator=official",
                          "crmt.step2_from=last", "crmt.step2_keep=best_validation", "train.bn_recalibrate_epochs=1"})
      args.push_back(a);
  return args;
}

int run(const std::vector<std::string>& args) { return test::run_cli_to_end(args); }

bool run_and_kill(const std::vector<std::string>& args, double seconds, double& ran) {
  return test::run_cli_and_kill(args, seconds, ran);
}

std::vector<torch::Tensor> weights_of(const fs::path& checkpoint) {
  auto e = load_experiment(checkpoint.string(), {"output.progress=false"});
  std::vector<torch::Tensor> w;
  for (const auto& p : e.net->named_parameters()) w.push_back(p.value().detach().clone());
  for (const auto& b : e.net->named_buffers()) w.push_back(b.value().detach().clone());
  return w;
}

class KillAndResumeTraining : public ::testing::TestWithParam<bool> {};

TEST_P(KillAndResumeTraining, RandomKillsThenResumeGiveTheUninterruptedResult) {
  const bool official = GetParam();
  const auto train_args = [official](const fs::path& out) { return crmt::train_args(out, official); };
  const int trials = official ? 3 : 4;
  int planned = 0;
  const auto dir = test::temp_dir("kill_resume");
  const auto reference = dir / "reference";
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(run(train_args(reference)), 0);
  const double duration = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto want = weights_of(reference / "best.pt");
  const auto want_summary = test::read_json(reference / "summary.json");

  std::mt19937_64 rng(20261127);
  int killed = 0;
  for (int trial = 0; trial < trials; ++trial) {
    const auto out = dir / ("killed" + std::to_string(trial));
    // One or two kills at uniform moments of a run's length, then resume to the end. Runs mostly
    // wait for fsync, so their length varies: when one ends before its kill, the trial starts
    // again with moments drawn from the length it just took.
    const int kills = 1 + trial % 2;
    planned += kills;
    double length = duration;
    int landed = 0;
    for (int attempt = 0; landed < kills && attempt < 8; ++attempt) {
      auto args = train_args(out);
      if (landed > 0) args.push_back("--resume");
      double ran = 0;
      if (run_and_kill(args, std::uniform_real_distribution<double>(0.05, 0.95)(rng) * length, ran)) {
        ++landed;
      } else {
        length = ran;
        landed = 0;
        fs::remove_all(out);
      }
    }
    killed += landed;
    auto args = train_args(out);
    args.push_back("--resume");
    ASSERT_EQ(run(args), 0) << "trial " << trial;
    const auto got = weights_of(out / "best.pt");
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(torch::equal(got[i], want[i])) << "trial " << trial << " tensor " << i;
    const auto got_summary = test::read_json(out / "summary.json");
    EXPECT_EQ(got_summary["test_accuracy"], want_summary["test_accuracy"]) << "trial " << trial;
    EXPECT_EQ(got_summary["best_val_accuracy"], want_summary["best_val_accuracy"]) << "trial " << trial;
  }
  EXPECT_GE(killed, planned - 1) << "the kills must land while training runs";
  // Killed after the final stage wrote best.pt (or resumed once more after the end): the result
  // stays the same, step 2 does not run a second time on its own result.
  auto again = train_args(reference);
  again.push_back("--resume");
  ASSERT_EQ(run(again), 0);
  const auto after = weights_of(reference / "best.pt");
  for (size_t i = 0; i < after.size(); ++i) EXPECT_TRUE(torch::equal(after[i], want[i])) << "tensor " << i;
  EXPECT_EQ(test::read_json(reference / "summary.json")["test_accuracy"], want_summary["test_accuracy"]);
}

INSTANTIATE_TEST_SUITE_P(PaperAndOfficialSettings, KillAndResumeTraining, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? std::string("official") : std::string("paper"); });

// crmt compare over two seeds of CRMT-JT on synthetic clusters.
std::vector<std::string> compare_args(const fs::path& dir, const fs::path& out) {
  const auto config = dir / "crmt_jt.yaml";
  if (!fs::exists(config)) {
    std::ofstream(config) << "train:\n  method: crmt_jt\n  epochs: 4\ndata:\n  name: synthetic\n  synthetic:\n"
                             "    samples: 8000\nmodel:\n  encoder: mlp\n  head: orthogonal\ncrmt:\n  step2_epochs: 3\n"
                             "output:\n  progress: false\n";
  }
  return {"compare", "--config", config.string(), "--seeds", "0,1", "--lipschitz-samples", "300", "--threads", "1",
          "--out", out.string()};
}

// A run's record without its wall time (which differs between runs by nature) and with its own
// folder's name replaced.
nlohmann::json record_of(const fs::path& out, int seed) {
  std::ifstream in(out / "crmt_jt" / ("seed" + std::to_string(seed)) / "compare_record.json");
  auto json = nlohmann::json::parse(in);
  json.erase("minutes");
  auto text = json.dump();
  for (auto at = text.find(out.string()); at != std::string::npos; at = text.find(out.string(), at))
    text.replace(at, out.string().size(), "OUT");
  return nlohmann::json::parse(text);
}

TEST(KillAndResume, KilledCompareStartedAgainGivesTheUninterruptedRecords) {
  const auto dir = test::temp_dir("kill_compare");
  const auto reference = dir / "reference";
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(run(compare_args(dir, reference)), 0);
  const double duration = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::mt19937_64 rng(20261128);
  int killed = 0;
  for (int trial = 0; trial < 5; ++trial) {
    const auto out = dir / ("killed" + std::to_string(trial));
    double length = duration, ran = 0;
    for (int attempt = 0; attempt < 6; ++attempt) {
      if (run_and_kill(compare_args(dir, out), std::uniform_real_distribution<double>(0.05, 0.95)(rng) * length, ran)) {
        ++killed;
        break;
      }
      length = ran;  // it ended first: draw again from the length it took
      fs::remove_all(out);
    }
    ASSERT_EQ(run(compare_args(dir, out)), 0) << "trial " << trial;  // no flag: compare picks up where it stopped
    for (int seed : {0, 1}) EXPECT_EQ(record_of(out, seed), record_of(reference, seed)) << "trial " << trial << " seed " << seed;
  }
  EXPECT_GE(killed, 4) << "the kills must land while the comparison runs";
}

}  // namespace
}  // namespace crmt
