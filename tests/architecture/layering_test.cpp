// The include graph of src/crmt points down the layers of docs/architecture.md: a file may include
// its own folder and the folders below it, never one above.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

namespace crmt {
namespace {

namespace fs = std::filesystem;

// Bottom to top.
const std::vector<std::string> kLayers = {"core",    "media", "data",    "models",   "attacks", "train",
                                          "certify", "eval",  "methods", "pipeline", "report"};

int rank_of(const std::string& folder) {
  for (size_t i = 0; i < kLayers.size(); ++i)
    if (kLayers[i] == folder) return static_cast<int>(i);
  return -1;
}

TEST(Layering, EveryIncludePointsDown) {
  const fs::path root = fs::path(CRMT_SOURCE_DIR) / "src" / "crmt";
  const std::regex include(R"(^\s*#\s*include\s+"crmt/([a-z_]+)/)");
  std::vector<std::string> upward;
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    const auto ext = entry.path().extension();
    if (!entry.is_regular_file() || (ext != ".h" && ext != ".cpp")) continue;
    const auto folder = fs::relative(entry.path(), root).begin()->string();
    if (entry.path().parent_path() == root) continue;  // pch.h
    const int own = rank_of(folder);
    ASSERT_GE(own, 0) << "src/crmt/" << folder << " is not a layer of docs/architecture.md";
    ++files;
    std::ifstream in(entry.path());
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      std::smatch m;
      if (std::regex_search(line, m, include) && rank_of(m[1]) > own)
        upward.push_back(fs::relative(entry.path(), root).string() + ":" + std::to_string(n) + " includes crmt/" +
                         m[1].str() + "/");
    }
  }
  EXPECT_GT(files, 50);
  EXPECT_TRUE(upward.empty()) << ::testing::PrintToString(upward);
}

}  // namespace
}  // namespace crmt
