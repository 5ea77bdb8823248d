#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crmt/core/atomic_file.h"
#include "crmt/core/error.h"
#include "crmt/data/data_factory.h"
#include "crmt/methods/joint_training.h"
#include "crmt/models/model_factory.h"
#include "crmt/train/checkpoint.h"
#include "crmt/train/run_lock.h"
#include "crmt/train/trainer.h"
#include "test_util.h"

namespace crmt {
namespace {

namespace fs = std::filesystem;

MultiModalNet fit(const Config& cfg, const DataSplits& data, bool resume) {
  torch::manual_seed(0);
  auto net = build_model(cfg, data.train.specs, data.train.num_classes());
  JointTraining jt;
  Trainer(cfg, cfg.str("output.dir"), describe_architecture(net)).fit(net, jt, data, resume);
  return net;
}

TEST(Trainer, ResumeWithoutACheckpointTrainsFromTheStart) {
  auto straight_dir = test::temp_dir("fresh_straight"), resumed_dir = test::temp_dir("fresh_resumed");
  auto cfg = test::synthetic_config(straight_dir, 2, 2);
  auto data = load_data(cfg, false);
  auto straight = fit(cfg, data, false);
  auto resumed = fit(test::synthetic_config(resumed_dir, 2, 2), data, /*resume=*/true);
  auto a = straight->parameters(), b = resumed->parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << i;
  EXPECT_EQ(read_checkpoint_info((resumed_dir / "last.pt").string()).epoch, 2);
}

TEST(Trainer, AFullDiskStopsTrainingWithOneErrorAndKeepsTheLastCheckpoint) {
  auto dir = test::temp_dir("full_disk");
  auto cfg = test::synthetic_config(dir, 2, 2);
  auto data = load_data(cfg, false);
  fit(cfg, data, false);
  const auto last = (dir / "last.pt").string();
  const auto before = test::read_file(last);
  cfg.set("train.epochs", "4");
  // Room for the run's config.yaml, not for a checkpoint.
  simulate_full_disk_after(static_cast<int64_t>(fs::file_size(dir / "config.yaml")) + 200);
  const auto msg = test::error_of([&] { fit(cfg, data, /*resume=*/true); });
  simulate_full_disk_after(-1);
  EXPECT_NE(msg.find("disk full"), std::string::npos) << msg;
  EXPECT_NE(msg.find("last.pt"), std::string::npos) << msg;
  EXPECT_EQ(test::read_file(last), before) << "the previous checkpoint is intact";
  EXPECT_EQ(read_checkpoint_info(last).epoch, 2);
  // With room again, the run resumes from it.
  fit(cfg, data, /*resume=*/true);
  EXPECT_EQ(read_checkpoint_info(last).epoch, 4);
}

TEST(Trainer, ADivergingLossStopsWithWhereTheLastGoodCheckpointIs) {
  auto dir = test::temp_dir("diverge");
  auto cfg = test::synthetic_config(dir, 2, 2);
  auto data = load_data(cfg, false);
  fit(cfg, data, false);  // leaves last.pt behind
  cfg.set("train.lr", "1e30");
  auto msg = test::error_of([&] { fit(cfg, data, false); });
  EXPECT_NE(msg.find("the loss became"), std::string::npos) << msg;
  EXPECT_NE(msg.find((dir / "last.pt").string()), std::string::npos) << msg;
  auto fresh = test::temp_dir("diverge_fresh");
  cfg.set("output.dir", fresh.string());
  msg = test::error_of([&] { fit(cfg, data, false); });
  EXPECT_NE(msg.find("no checkpoint was written yet"), std::string::npos) << msg;
}

TEST(Trainer, ResumeGivesTheSameWeightsAsAnUninterruptedRun) {
  auto straight_dir = test::temp_dir("straight"), resumed_dir = test::temp_dir("resumed");
  auto cfg = test::synthetic_config(straight_dir, 2, 4);
  auto data = load_data(cfg, false);
  auto straight = fit(cfg, data, false);

  auto first = test::synthetic_config(resumed_dir, 2, 2);
  fit(first, data, false);
  auto second = test::synthetic_config(resumed_dir, 2, 4);
  auto resumed = fit(second, data, true);
  auto a = straight->parameters(), b = resumed->parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::allclose(a[i], b[i], 1e-5, 1e-6)) << i;

  // Four epochs logged, no temporary checkpoint left behind.
  std::ifstream log(resumed_dir / "log.jsonl");
  int lines = 0;
  for (std::string line; std::getline(log, line); ++lines) {
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["epoch"].get<int>(), lines + 1);
    EXPECT_TRUE(j.contains("val_accuracy") && j.contains("samples_per_second"));
  }
  EXPECT_EQ(lines, 4);
  EXPECT_FALSE(fs::exists(resumed_dir / "last.pt.tmp"));
  EXPECT_TRUE(fs::exists(resumed_dir / "config.yaml"));
  EXPECT_EQ(read_checkpoint_info((resumed_dir / "last.pt").string()).epoch, 4);
}

TEST(Trainer, BestCheckpointHoldsTheBestValidationAccuracy) {
  auto dir = test::temp_dir("best");
  auto cfg = test::synthetic_config(dir, 2, 3);
  auto data = load_data(cfg, false);
  fit(cfg, data, false);
  double best = 0;
  std::ifstream log(dir / "log.jsonl");
  for (std::string line; std::getline(log, line);) best = std::max(best, nlohmann::json::parse(line)["val_accuracy"].get<double>());
  auto info = read_checkpoint_info((dir / "best.pt").string());
  EXPECT_DOUBLE_EQ(info.best_val_accuracy, best);
  auto net = build_model(cfg, data.train.specs, data.train.num_classes());
  load_checkpoint((dir / "best.pt").string(), describe_architecture(net), net);
  EXPECT_DOUBLE_EQ(accuracy(net, data.val, 100), best);
}

using test::error_of;

TEST(Checkpoint, DifferentArchitectureCorruptAndMissingFilesAreClearErrors) {
  auto dir = test::temp_dir("ckpt");
  auto cfg = test::synthetic_config(dir, 2, 1);
  auto data = load_data(cfg, false);
  fit(cfg, data, false);
  const auto path = (dir / "best.pt").string();

  auto other_cfg = cfg;
  other_cfg.set("model.embed_dim", "8");
  auto other = build_model(other_cfg, data.train.specs, data.train.num_classes());
  auto msg = error_of([&] { load_checkpoint(path, describe_architecture(other), other); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("different architecture"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line";

  const auto corrupt = (dir / "corrupt.pt").string();
  std::ofstream(corrupt) << "not a checkpoint";
  msg = error_of([&] { read_checkpoint_info(corrupt); });
  EXPECT_NE(msg.find(corrupt), std::string::npos) << msg;

  // A truncated copy of a real checkpoint.
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  std::ofstream(dir / "truncated.pt", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  msg = error_of([&] { read_checkpoint_info((dir / "truncated.pt").string()); });
  EXPECT_NE(msg.find("truncated.pt"), std::string::npos) << msg;

  msg = error_of([&] { read_checkpoint_info((dir / "absent.pt").string()); });
  EXPECT_NE(msg.find("not found"), std::string::npos) << msg;
}

// The archive stores tensors uncompressed and LibTorch reads a damaged record without complaint:
// the weights' checksum is what refuses it, before the model is touched.
TEST(Checkpoint, DamagedWeightsOrNonFiniteValuesAreRefusedAndLeaveTheModelAlone) {
  auto dir = test::temp_dir("ckpt_damaged");
  auto cfg = test::synthetic_config(dir, 2, 1);
  auto data = load_data(cfg, false);
  auto net = fit(cfg, data, false);
  const auto path = (dir / "best.pt").string();
  const auto architecture = describe_architecture(net);
  auto fresh = build_model(cfg, data.train.specs, data.train.num_classes());
  EXPECT_NO_THROW(load_checkpoint(path, architecture, fresh)) << "an intact checkpoint loads";

  // Flip one byte inside the stored bytes of the largest parameter.
  torch::Tensor largest;
  for (const auto& p : net->parameters())
    if (!largest.defined() || p.numel() > largest.numel()) largest = p.detach().contiguous();
  const std::string needle(static_cast<const char*>(largest.data_ptr()), 64);
  auto bytes = test::read_file(path);
  const auto at = bytes.find(needle);
  ASSERT_NE(at, std::string::npos) << "the parameter's bytes are stored as they are";
  bytes[at + 10] = static_cast<char>(bytes[at + 10] ^ 0x40);
  const auto damaged = (dir / "damaged.pt").string();
  std::ofstream(damaged, std::ios::binary) << bytes;
  auto target = build_model(cfg, data.train.specs, data.train.num_classes());
  const auto before = target->parameters()[0].clone();
  auto msg = error_of([&] { load_checkpoint(damaged, architecture, target); });
  EXPECT_NE(msg.find(damaged), std::string::npos) << msg;
  EXPECT_NE(msg.find("CRC-32"), std::string::npos) << msg;
  EXPECT_TRUE(torch::equal(target->parameters()[0], before)) << "nothing copied from a damaged checkpoint";

  // NaN weights saved by a diverged run are named, not loaded.
  {
    torch::NoGradGuard no_grad;
    net->parameters()[0].view(-1)[0] = std::numeric_limits<float>::quiet_NaN();
  }
  CheckpointInfo info;
  info.architecture = architecture;
  info.config_yaml = cfg.to_yaml();
  const auto nan_path = (dir / "nan.pt").string();
  save_checkpoint(nan_path, info, net, nullptr, nullptr);
  msg = error_of([&] { load_checkpoint(nan_path, architecture, target); });
  EXPECT_NE(msg.find(nan_path), std::string::npos) << msg;
  EXPECT_NE(msg.find("NaN"), std::string::npos) << msg;
}

}  // namespace
}  // namespace crmt

namespace crmt {
namespace {

TEST(RunLock, ASecondRunOnTheSameFolderStopsAndAStaleLockIsTakenOver) {
  auto dir = test::temp_dir("lock");
  const auto lock_file = dir / ".crmt.lock";
  {
    RunLock lock(dir.string());
    EXPECT_EQ(test::read_file(lock_file), std::to_string(::getpid()) + "\n");
  }
  EXPECT_FALSE(std::filesystem::exists(lock_file)) << "released when the run ends";

  // A lock held by a live process (pid 1 always exists) stops a second run, naming the folder.
  std::ofstream(lock_file) << "1\n";
  auto cfg = test::synthetic_config(dir, 2, 1);
  auto data = load_data(cfg, false);
  auto msg = test::error_of([&] { fit(cfg, data, false); });
  EXPECT_NE(msg.find("another run (pid 1)"), std::string::npos) << msg;
  EXPECT_NE(msg.find(dir.string()), std::string::npos) << msg;
  EXPECT_FALSE(std::filesystem::exists(dir / "last.pt")) << "nothing written";

  // A lock left by a process that is gone is taken over, and released at the end.
  std::ofstream(lock_file) << "999999999\n";
  EXPECT_NO_THROW(fit(cfg, data, false));
  EXPECT_TRUE(std::filesystem::exists(dir / "last.pt"));
  EXPECT_FALSE(std::filesystem::exists(lock_file));
}

}  // namespace
}  // namespace crmt
