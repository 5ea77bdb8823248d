#include <fstream>

#include <gtest/gtest.h>

#include "test_util.h"

namespace crmt {
namespace {

int count_lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

TEST(Cli, TrainThenEvalOnSyntheticData) {
  auto dir = test::temp_dir("run");
  auto train = test::run_cli("train data.name=synthetic model.encoder=mlp train.epochs=2 output.progress=false output.dir=" +
                             dir.string() + " --threads 1");
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_TRUE(std::filesystem::exists(dir / "config.yaml"));
  EXPECT_TRUE(std::filesystem::exists(dir / "summary.json"));
  auto eval = test::run_cli("eval --checkpoint " + (dir / "best.pt").string() + " --attack pgd --modality m1 --eps 0.5 --json");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_NE(eval.output.find("\"attack\": \"pgd\""), std::string::npos) << eval.output;
  auto bad_modality = test::run_cli("eval --checkpoint " + (dir / "best.pt").string() + " --attack fgm --modality flow");
  EXPECT_EQ(bad_modality.exit_code, 1);
  EXPECT_NE(bad_modality.output.find("'flow'"), std::string::npos) << bad_modality.output;
}

TEST(Cli, BadInputGivesOneLineAndNonZeroExit) {
  auto dir = test::temp_dir("bad");
  std::ofstream(dir / "typo.yaml") << "train:\n  epoch: 3\n";
  std::ofstream(dir / "type.yaml") << "train:\n  lr: fast\n";
  std::ofstream(dir / "garbage.pt") << "garbage";
  struct Case {
    std::string args, must_mention;
  };
  for (const auto& c : std::vector<Case>{
           {"train --config " + (dir / "typo.yaml").string(), "train.epoch"},
           {"train --config " + (dir / "type.yaml").string(), "train.lr"},
           {"train data.name=synthetic model.depth=3", "model.depth"},
           {"eval --checkpoint " + (dir / "garbage.pt").string(), "garbage.pt"},
           {"eval --checkpoint " + (dir / "none.pt").string(), "none.pt"},
       }) {
    auto r = test::run_cli(c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.must_mention), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_EQ(count_lines(r.output), 1) << c.args << "\n" << r.output;
  }
}

TEST(Cli, CheckpointOfAnotherArchitectureIsRefusedOnResume) {
  auto dir = test::temp_dir("arch");
  auto base = "train data.name=synthetic model.encoder=mlp train.epochs=1 output.progress=false output.dir=" + dir.string();
  ASSERT_EQ(test::run_cli(base).exit_code, 0);
  auto r = test::run_cli(base + " model.embed_dim=32 train.epochs=2 --resume");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("last.pt"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("different architecture"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace crmt
