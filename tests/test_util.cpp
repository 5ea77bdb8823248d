#include "test_util.h"

#include <unistd.h>

#include <cstdio>
#include <random>

#include <gtest/gtest.h>

#include "crmt/core/error.h"
#include "crmt/data/data_factory.h"
#include "crmt/methods/joint_training.h"
#include "crmt/models/model_factory.h"
#include "crmt/train/trainer.h"

namespace crmt::test {

std::filesystem::path temp_dir(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string unique = info ? std::string(info->test_suite_name()) + "_" + info->name() : "crmt";
  // The pid keeps folders of tests that ctest runs in parallel processes apart (suite fixtures have
  // no current test, so their names alone would collide).
  auto dir = std::filesystem::temp_directory_path() /
             ("crmt_test_" + unique + "_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

Config synthetic_config(const std::filesystem::path& out_dir, int modalities, int epochs) {
  return Config::load("", {"data.name=synthetic", "data.synthetic.modalities=" + std::to_string(modalities),
                           "model.encoder=mlp", "model.embed_dim=16", "model.hidden_dim=32",
                           "train.epochs=" + std::to_string(epochs), "train.batch_size=32", "train.lr=0.05",
                           "output.progress=false", "output.dir=" + out_dir.string()});
}

MultiModalNet train_synthetic(const Config& config, DataSplits* data_out) {
  auto data = load_data(config, false);
  if (data_out) *data_out = data;
  return train_on(config, data);
}

MultiModalNet train_on(const Config& config, const DataSplits& data) {
  torch::manual_seed(config.integer("seed"));
  auto net = build_model(config, data.train.specs, data.train.num_classes());
  JointTraining jt;
  Trainer trainer(config, config.str("output.dir"), describe_architecture(net));
  trainer.fit(net, jt, data, false);
  net->eval();
  return net;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

CommandResult run_cli(const std::string& args) {
  std::string command = std::string(CRMT_CLI_PATH) + " " + args + " 2>&1";
  CommandResult r{-1, ""};
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return r;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) r.output.append(buffer, n);
  int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace crmt::test
