#pragma once
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "crmt/core/config.h"
#include "crmt/data/dataset.h"
#include "crmt/models/multimodal_net.h"

namespace crmt::test {

// A fresh empty folder under the system temp dir, unique per test.
std::filesystem::path temp_dir(const std::string& name);
// Removes every folder temp_dir made in this process (test_main calls it after the run; a suite
// run used to leave gigabytes of checkpoints in /tmp). CRMT_KEEP_TEST_DIRS=1 keeps them.
void remove_temp_dirs();

// A config for fast synthetic runs: MLP encoders, no progress bar, output in `out_dir`.
Config synthetic_config(const std::filesystem::path& out_dir, int modalities = 2, int epochs = 3);

// synthetic_config with small-CNN encoders (embedding 8, batch 16), for image_data.
Config small_cnn_config(const std::filesystem::path& out_dir);

// Trains a small JT model on the synthetic data of `config`; returns it in eval mode.
MultiModalNet train_synthetic(const Config& config, DataSplits* data_out = nullptr);
// Trains the model of `config` with JT on `data`; returns it in eval mode.
MultiModalNet train_on(const Config& config, const DataSplits& data);

// Image-like data for small-CNN tests: two modalities "img0", "img1" of shape [1, size, size], each
// sample its class's prototype (fixed across calls) plus Gaussian noise of std `noise`; classes
// "c0", ...
MultiModalDataset image_data(int64_t n, int64_t classes, uint64_t seed, double noise = 0.5, int64_t size = 8);
// `d` held in memory with modality m clamped to [lower, upper] and bounded to that range, so that
// attacks clamp to it.
MultiModalDataset bounded_copy(const MultiModalDataset& d, size_t m, double lower, double upper);

// The bytes of a file ("" when it cannot be read).
std::string read_file(const std::filesystem::path& path);
// The JSON document in a file (throws when it cannot be read or parsed).
nlohmann::json read_json(const std::filesystem::path& path);
// The JSON document a command printed after any other lines (from its first '{'); throws when none.
nlohmann::json json_in_output(const std::string& output);
// Writes `bytes` to `path` as they are; returns the path.
std::string write_file(const std::filesystem::path& path, const std::string& bytes);
// Every regular file under `dir` (relative path -> bytes).
std::map<std::string, std::string> tree_of(const std::filesystem::path& dir);
// A file of tests/data/fixtures, the reference outputs of other implementations.
std::string fixture_path(const std::string& name);

// The message of the crmt::Error that `f` throws, or "" when it throws none.
std::string error_of(const std::function<void()>& f);

struct CommandResult {
  int exit_code;
  std::string output;  // stdout and stderr together
};
// Runs the crmt command-line tool with `args` (shell-quoted by the caller).
CommandResult run_cli(const std::string& args);

// Starts the command-line tool with `args` (stdout and stderr to /dev/null); its pid.
int spawn_cli(const std::vector<std::string>& args);
// Runs it to the end; the exit status (-1 when it did not exit normally).
int run_cli_to_end(const std::vector<std::string>& args);
// Runs it for `seconds`, then SIGKILL. True when it was killed; false when it ended first, with how
// long it ran in `ran`.
bool run_cli_and_kill(const std::vector<std::string>& args, double seconds, double& ran);

}  // namespace crmt::test
