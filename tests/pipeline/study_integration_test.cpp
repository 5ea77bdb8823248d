#include "crmt/pipeline/study.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "crmt/core/error.h"
#include "test_util.h"

namespace crmt {
namespace {

RunRecord record(int64_t seed, double clean, double pgd_audio, double missing_visual, double certified) {
  RunRecord r;
  r.config = "configs/jt.yaml";
  r.name = "jt";
  r.method = "jt";
  r.seed = seed;
  r.config_yaml = "seed: " + std::to_string(seed) + "\n";
  r.modalities = {"visual", "audio"};
  r.evaluations = {{EvalCase{AttackSpec{"none", 0, 0}, "all"}, clean},
                   {EvalCase{AttackSpec{"pgd", 1.0, 4}, "audio"}, pgd_audio},
                   {EvalCase{AttackSpec{"missing", 0, 0}, "visual"}, missing_visual}};
  r.certified = {{0.05, certified}};
  r.lipschitz_samples = 1000;
  r.minutes = 1.0 + seed;
  return r;
}

TEST(Study, RecordsRoundTripThroughJsonWithTypedKeys) {
  auto r = record(2, 0.75, 0.45, 0.13, 0.7);
  r.certificate = {{"median_radius", 0.4}};
  auto back = record_from_json(nlohmann::json::parse(record_to_json(r).dump()), "test");
  EXPECT_EQ(back.name, r.name);
  EXPECT_EQ(back.seed, 2);
  EXPECT_EQ(back.config_yaml, r.config_yaml);
  EXPECT_EQ(back.modalities, r.modalities);
  ASSERT_EQ(back.evaluations.size(), 3u);
  EXPECT_EQ(back.evaluations[1].evaluated.attack.kind, "pgd");
  EXPECT_EQ(back.evaluations[1].evaluated.modality, "audio");
  EXPECT_DOUBLE_EQ(*back.accuracy(EvalCase{AttackSpec{"pgd", 1.0, 4}, "audio"}), 0.45);
  EXPECT_DOUBLE_EQ(*back.certified_accuracy(0.05), 0.7);
  EXPECT_EQ(back.certificate["median_radius"], 0.4);
  EXPECT_DOUBLE_EQ(back.minutes, 3.0);
}

TEST(Study, LooksUpEvaluationsByAttackStrengthStepsAndModality) {
  auto r = record(0, 0.75, 0.45, 0.13, 0.7);
  EXPECT_FALSE(r.accuracy(EvalCase{AttackSpec{"pgd", 0.5, 4}, "audio"})) << "another strength";
  EXPECT_FALSE(r.accuracy(EvalCase{AttackSpec{"pgd", 1.0, 10}, "audio"})) << "another number of steps";
  EXPECT_FALSE(r.accuracy(EvalCase{AttackSpec{"pgd", 1.0, 4}, "visual"})) << "another modality";
  EXPECT_FALSE(r.accuracy(EvalCase{AttackSpec{"fgm", 1.0, 4}, "audio"})) << "another attack";
  // A missing modality has no strength or steps: any value finds it.
  EXPECT_TRUE(r.accuracy(EvalCase{AttackSpec{"missing", 0.7, 9}, "visual"}));
  EXPECT_FALSE(r.certified_accuracy(0.1));
  // A table column is looked up at the run's own PGD iterations.
  EXPECT_DOUBLE_EQ(*r.suite_accuracy(EvalCase{AttackSpec{"pgd", 1.0, 1}, "audio"}), 0.45);
  r.pgd_steps = 10;
  EXPECT_FALSE(r.suite_accuracy(EvalCase{AttackSpec{"pgd", 1.0, 4}, "audio"}));
}

TEST(Study, ABrokenRecordIsAnErrorNamingTheFile) {
  auto json = record_to_json(record(0, 0.7, 0.4, 0.1, 0.6));
  json.erase("evaluations");
  auto message = test::error_of([&] { record_from_json(json, "runs/x/compare_record.json"); });
  EXPECT_NE(message.find("runs/x/compare_record.json"), std::string::npos) << message;
}

TEST(Study, TablesSplitMultiAndUniModalEvaluationsAndAverageOverSeeds) {
  StudyOptions opt;
  opt.unimodal_eps = 1.0;
  opt.radii = {0.05};
  std::vector<std::vector<RunRecord>> records{{record(0, 0.70, 0.40, 0.10, 0.60), record(1, 0.80, 0.50, 0.20, 0.70),
                                               record(2, 0.75, 0.45, 0.15, 0.65)}};
  auto multi = study_table(records, opt, false);
  auto uni = study_table(records, opt, true);
  ASSERT_EQ(multi.rows.size(), 1u);
  // clean, fgm all, pgd all, certified, minutes
  ASSERT_EQ(multi.header.size(), 6u);
  EXPECT_EQ(multi.header[1], "clean");
  EXPECT_EQ(multi.rows[0][0], "jt");
  EXPECT_EQ(multi.rows[0][1], "75.00 ± 5.00");
  EXPECT_EQ(multi.rows[0][2], "n/a") << "fgm on all was never evaluated";
  EXPECT_EQ(multi.header[4], "certified acc r=0.05 (empirical Lipschitz)");
  EXPECT_EQ(multi.rows[0][4], "65.00 ± 5.00");
  EXPECT_EQ(multi.rows[0][5], "2.0") << "median minutes";
  // fgm/pgd on each modality, then each modality missing, then minutes
  ASSERT_EQ(uni.header.size(), 8u);
  EXPECT_EQ(uni.header[4], "pgd eps=1 on audio");
  EXPECT_EQ(uni.rows[0][4], "45.00 ± 5.00");
  EXPECT_EQ(uni.header[5], "missing visual");
  EXPECT_EQ(uni.rows[0][5], "15.00 ± 5.00");
}

TEST(Study, MeanStdPrintsNoSpreadForOneSeed) {
  EXPECT_EQ(mean_std({0.5}), "50.00");
  EXPECT_EQ(mean_std({0.5, 0.7}), "60.00 ± 14.14");
}

TEST(Study, TrainsOnceAndReusesTheRecordOnARerun) {
  const auto dir = test::temp_dir("study");
  const auto config = (dir / "tiny.yaml").string();
  {
    std::ofstream f(config);
    f << "data: {name: synthetic}\nmodel: {encoder: mlp, embed_dim: 8, hidden_dim: 16}\n"
         "train: {epochs: 1, batch_size: 64, lr: 0.05}\noutput: {progress: false}\n";
  }
  StudyOptions opt;
  opt.configs = {config};
  opt.seeds = {0, 1};
  opt.out = (dir / "out").string();
  opt.radii = {0.1};
  opt.lipschitz_samples = 50;
  opt.progress = false;
  auto first = run_study(opt);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(first[0].size(), 2u);
  EXPECT_EQ(first[0][1].seed, 1);
  ASSERT_EQ(first[0][0].modalities.size(), 2u);
  EXPECT_TRUE(first[0][0].accuracy(EvalCase{AttackSpec{"missing", 0, 0}, first[0][0].modalities[1]}));
  EXPECT_TRUE(first[0][0].certified_accuracy(0.1));
  EXPECT_TRUE(std::filesystem::exists(dir / "out" / "results.md"));
  EXPECT_TRUE(std::filesystem::exists(dir / "out" / "tiny" / "seed1" / "compare_record.json"));
  const auto written = std::filesystem::last_write_time(dir / "out" / "tiny" / "seed0" / "best.pt");
  auto second = run_study(opt);
  EXPECT_EQ(std::filesystem::last_write_time(dir / "out" / "tiny" / "seed0" / "best.pt"), written) << "not trained again";
  const EvalCase clean{AttackSpec{"none", 0, 0}, "all"};
  EXPECT_DOUBLE_EQ(*second[0][0].accuracy(clean), *first[0][0].accuracy(clean));
}

}  // namespace
}  // namespace crmt
