#include <fstream>

#include <gtest/gtest.h>

#include "crmt/attacks/attack_registry.h"
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

TEST(Cli, EvalHelpListsEveryRegisteredAttack) {
  auto help = test::run_cli("eval --help");
  ASSERT_EQ(help.exit_code, 0) << help.output;
  for (const auto& name : known_attacks()) EXPECT_NE(help.output.find(name), std::string::npos) << name;
}

TEST(Cli, CompareTabulatesSeedsAndReusesFinishedRuns) {
  namespace fs = std::filesystem;
  auto dir = test::temp_dir("compare");
  std::ofstream(dir / "jt.yaml") << "data:\n  name: synthetic\nmodel:\n  encoder: mlp\n  embed_dim: 16\n  hidden_dim: 32\n"
                                    "train:\n  epochs: 1\n  lr: 0.05\noutput:\n  progress: false\n";
  // An override right after --config (as in docs/results.md) is an override, not a second config.
  const auto args = "compare --config " + (dir / "jt.yaml").string() + " train.batch_size=32 --seeds 0,1 --lipschitz-samples 50 " +
                    "--threads 1 --out " + (dir / "out").string();
  auto first = test::run_cli(args);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_EQ(first.output.find("reusing"), std::string::npos) << first.output;
  for (int seed : {0, 1}) EXPECT_TRUE(fs::exists(dir / "out" / "jt" / ("seed" + std::to_string(seed)) / "compare_record.json"));
  std::ifstream md(dir / "out" / "results.md");
  std::string table((std::istreambuf_iterator<char>(md)), std::istreambuf_iterator<char>());
  // Two tables in the paper's layout, one row per config (named by its file), seeds as mean ± std.
  EXPECT_NE(table.find("layout of Table 1"), std::string::npos) << table;
  EXPECT_NE(table.find("layout of Table 2"), std::string::npos) << table;
  EXPECT_NE(table.find("| clean | fgm eps=0.5 on all | pgd eps=0.5 on all |"), std::string::npos) << table;
  EXPECT_NE(table.find("| fgm eps=1 on m0 | fgm eps=1 on m1 |"), std::string::npos) << table;
  EXPECT_NE(table.find("| missing m0 | missing m1 |"), std::string::npos) << table;
  auto jt_rows = 0;
  for (size_t at = table.find("\n| jt | "); at != std::string::npos; at = table.find("\n| jt | ", at + 1)) ++jt_rows;
  EXPECT_EQ(jt_rows, 2) << table;
  EXPECT_NE(table.find(" ± "), std::string::npos) << table;

  // The same call again trains nothing and gives the same table.
  auto second = test::run_cli(args);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("jt seed 0: reusing"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("jt seed 1: reusing"), std::string::npos) << second.output;
  std::ifstream md2(dir / "out" / "results.md");
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(md2)), std::istreambuf_iterator<char>()), table);

  // Another uni-modal budget is evaluated on the trained runs, without training them again.
  auto more = test::run_cli(args + " --unimodal-eps 0.25");
  ASSERT_EQ(more.exit_code, 0) << more.output;
  EXPECT_NE(more.output.find("jt seed 1: trained; adding the missing evaluations"), std::string::npos) << more.output;
  EXPECT_EQ(more.output.find("thread(s))"), std::string::npos) << more.output;
  std::ifstream md3(dir / "out" / "results.md");
  std::string table3((std::istreambuf_iterator<char>(md3)), std::istreambuf_iterator<char>());
  EXPECT_NE(table3.find("| pgd eps=0.25 on m0 | pgd eps=0.25 on m1 |"), std::string::npos) << table3;
  EXPECT_EQ(table3.find("eps=1 on m0"), std::string::npos) << table3;

  // A changed setting trains again.
  auto changed = test::run_cli(args + " train.lr=0.02");
  ASSERT_EQ(changed.exit_code, 0) << changed.output;
  EXPECT_EQ(changed.output.find("reusing"), std::string::npos) << changed.output;
}

}  // namespace
}  // namespace crmt
