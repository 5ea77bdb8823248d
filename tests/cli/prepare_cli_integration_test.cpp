// From raw videos to a trained model through the command-line tool, for every dataset: make-fixture
// --videos writes real video files (what a user downloads), `data prepare` turns them into the
// dataset's layout, the shipped recipe trains on it. And a prepare killed with SIGKILL and run
// again ends with the same files as one never interrupted.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "crmt/core/checksum.h"
#include "test_util.h"

namespace crmt {
namespace {

namespace fs = std::filesystem;

struct PrepareCase {
  std::string dataset, configs;
};
void PrintTo(const PrepareCase& c, std::ostream* os) { *os << c.dataset; }

class PrepareCli : public ::testing::TestWithParam<PrepareCase> {};

TEST_P(PrepareCli, FixtureVideosArePreparedAndTrainWithTheShippedRecipe) {
  const auto& c = GetParam();
  const auto dir = test::temp_dir("prepare_cli_" + c.dataset);
  const auto fixture = (dir / "fixture").string();
  auto made = test::run_cli("data make-fixture " + c.dataset + " --videos --out " + fixture + " --clips 4");
  ASSERT_EQ(made.exit_code, 0) << made.output;
  const auto root = (dir / "prepared").string();
  auto prepared = test::run_cli("data prepare " + c.dataset + " --videos " + fixture + "/videos --out " + root +
                                " --workers 2");
  ASSERT_EQ(prepared.exit_code, 0) << prepared.output;
  EXPECT_NE(prepared.output.find("8 prepared now"), std::string::npos) << prepared.output;
  EXPECT_NE(prepared.output.find("0 failed"), std::string::npos) << prepared.output;
  const auto run = (dir / "run").string();
  const std::string config = std::string(CRMT_SOURCE_DIR) + "/configs/" + c.configs + "/jt.yaml";
  auto train = test::run_cli("train --config " + config + " data.root=" + root + " data." + c.dataset +
                             ".image_size=32 data.val_fraction=0 data.on_bad_sample=error train.epochs=1 "
                             "train.batch_size=4 output.progress=false output.dir=" + run);
  ASSERT_EQ(train.exit_code, 0) << train.output;
  auto eval = test::run_cli("eval --checkpoint " + run + "/best.pt --json");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_NE(eval.output.find("\"accuracy\""), std::string::npos) << eval.output;
  // Run again: nothing left to do.
  auto again = test::run_cli("data prepare " + c.dataset + " --videos " + fixture + "/videos --out " + root);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("0 prepared now, 8 already done"), std::string::npos) << again.output;
}

INSTANTIATE_TEST_SUITE_P(Datasets, PrepareCli,
                         ::testing::Values(PrepareCase{"kinetics_sounds", "ks"}, PrepareCase{"vggsound", "vggsound"},
                                           PrepareCase{"ucf101", "ucf101"}, PrepareCase{"cremad", "cremad"}),
                         [](const auto& info) { return info.param.dataset; });

// CRC-32 of every file under `root` but the manifest (which holds timings), by relative path.
std::map<std::string, uint32_t> checksums(const fs::path& root) {
  std::map<std::string, uint32_t> sums;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file() || e.path().filename() == "prepare_manifest.jsonl") continue;
    const auto bytes = test::read_file(e.path());
    sums[fs::relative(e.path(), root).string()] = crc_of(bytes.data(), bytes.size());
  }
  return sums;
}

TEST(PrepareCli, KilledAndRerunEndsWithTheFilesOfAnUninterruptedRun) {
  const auto dir = test::temp_dir("prepare_kill");
  const auto fixture = (dir / "fixture").string();
  ASSERT_EQ(test::run_cli("data make-fixture kinetics_sounds --videos --out " + fixture + " --clips 6").exit_code, 0);
  auto args = [&](const fs::path& out) {
    return std::vector<std::string>{"data", "prepare", "kinetics_sounds", "--videos", fixture + "/videos", "--out",
                                    out.string(), "--workers", "2"};
  };
  const auto reference = dir / "reference";
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(test::run_cli_to_end(args(reference)), 0);
  const double length = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto expected = checksums(reference);
  ASSERT_GT(expected.size(), 12u * 10u);
  std::mt19937 rng(7);
  int killed = 0;
  for (int trial = 0; trial < 3; ++trial) {
    const auto out = dir / ("killed" + std::to_string(trial));
    for (int kill = 0; kill < 2; ++kill) {
      double ran = 0;
      killed += test::run_cli_and_kill(args(out), std::uniform_real_distribution<double>(0.1, 0.9)(rng) * length, ran);
    }
    ASSERT_EQ(test::run_cli_to_end(args(out)), 0) << "trial " << trial;
    EXPECT_EQ(checksums(out), expected) << "trial " << trial;
    EXPECT_FALSE(fs::exists(out / ".prepare-staging"));
  }
  EXPECT_GE(killed, 3);
}

}  // namespace
}  // namespace crmt
