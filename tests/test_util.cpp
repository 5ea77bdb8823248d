#include "test_util.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <random>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crmt/core/error.h"
#include "crmt/data/data_factory.h"
#include "crmt/methods/joint_training.h"
#include "crmt/models/model_factory.h"
#include "crmt/train/trainer.h"

extern char** environ;

namespace crmt::test {

nlohmann::json json_in_output(const std::string& output) {
  const auto start = output.find('{');
  if (start == std::string::npos) throw std::runtime_error("no JSON in output: " + output);
  return nlohmann::json::parse(output.substr(start));
}

nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path.string() + ": cannot be read");
  return nlohmann::json::parse(in);
}

namespace {
std::vector<std::filesystem::path>& made_dirs() {
  static std::vector<std::filesystem::path> dirs;
  return dirs;
}
}  // namespace

void remove_temp_dirs() {
  if (const char* keep = std::getenv("CRMT_KEEP_TEST_DIRS"); keep && std::string(keep) == "1") return;
  std::error_code ignored;  // a folder already gone is fine
  for (const auto& dir : made_dirs()) std::filesystem::remove_all(dir, ignored);
  made_dirs().clear();
}

std::filesystem::path temp_dir(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string unique = info ? std::string(info->test_suite_name()) + "_" + info->name() : "crmt";
  // The pid keeps folders of tests that ctest runs in parallel processes apart (suite fixtures have
  // no current test, so their names alone would collide).
  auto dir = std::filesystem::temp_directory_path() /
             ("crmt_test_" + unique + "_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  made_dirs().push_back(dir);
  return dir;
}

MultiModalDataset bounded_copy(const MultiModalDataset& d, size_t m, double lower, double upper) {
  auto specs = d.specs;
  specs[m].lower = lower;
  specs[m].upper = upper;
  auto all = d.all();
  all.inputs[m] = all.inputs[m].clamp(lower, upper);
  return MultiModalDataset::in_memory(specs, all.inputs, all.labels, d.class_names, d.source);
}

MultiModalDataset image_data(int64_t n, int64_t classes, uint64_t seed, double noise, int64_t size) {
  auto gen = at::detail::createCPUGenerator(seed);
  auto proto_gen = at::detail::createCPUGenerator(1234);  // the same prototypes for every split
  auto opts = torch::TensorOptions().dtype(torch::kFloat);
  ModalitySpecs specs;
  std::vector<at::Tensor> inputs;
  std::vector<std::string> class_names;
  auto labels = at::randint(classes, {n}, gen, torch::kLong);
  for (int m = 0; m < 2; ++m) {
    ModalitySpec spec;
    spec.name = "img" + std::to_string(m);
    spec.shape = {1, size, size};
    specs.push_back(spec);
    auto prototypes = at::randn({classes, 1, size, size}, proto_gen, opts);
    inputs.push_back(prototypes.index_select(0, labels) + noise * at::randn({n, 1, size, size}, gen, opts));
  }
  for (int64_t k = 0; k < classes; ++k) class_names.push_back("c" + std::to_string(k));
  return MultiModalDataset::in_memory(specs, inputs, labels, class_names, "hand-made images");
}

Config synthetic_config(const std::filesystem::path& out_dir, int modalities, int epochs) {
  return Config::load("", {"data.name=synthetic", "data.synthetic.modalities=" + std::to_string(modalities),
                           "model.encoder=mlp", "model.embed_dim=16", "model.hidden_dim=32",
                           "train.epochs=" + std::to_string(epochs), "train.batch_size=32", "train.lr=0.05",
                           "output.progress=false", "output.dir=" + out_dir.string()});
}

Config small_cnn_config(const std::filesystem::path& out_dir) {
  auto cfg = synthetic_config(out_dir, 2, 3);
  cfg.set("model.encoder", "small_cnn");
  cfg.set("model.embed_dim", "8");
  cfg.set("train.batch_size", "16");
  return cfg;
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

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path.string();
}

std::map<std::string, std::string> tree_of(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::map<std::string, std::string> out;
  for (const auto& f : fs::recursive_directory_iterator(dir))
    if (f.is_regular_file()) out[fs::relative(f.path(), dir).string()] = read_file(f.path());
  return out;
}

std::string fixture_path(const std::string& name) { return std::string(CRMT_SOURCE_DIR) + "/tests/data/fixtures/" + name; }

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

int spawn_cli(const std::vector<std::string>& args) {
  std::vector<std::string> all{CRMT_CLI_PATH};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int err = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return err == 0 ? pid : -1;
}

int run_cli_to_end(const std::vector<std::string>& args) {
  const pid_t pid = spawn_cli(args);
  if (pid < 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool run_cli_and_kill(const std::vector<std::string>& args, double seconds, double& ran) {
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = spawn_cli(args);
  if (pid < 0) return false;
  const auto until = start + std::chrono::duration<double>(seconds);
  int status = 0;
  while (std::chrono::steady_clock::now() < until) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      ran = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return true;
}

}  // namespace crmt::test
