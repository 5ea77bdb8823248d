// Every input in fuzz/corpus/ (the fuzzers' corpora, including the inputs that once crashed a reader
// and were fixed) goes through its reader again on every CI run, compiled as the suite is.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "entries.h"

namespace crmt {
namespace {

namespace fs = std::filesystem;

TEST(FuzzCorpus, EveryInputIsReadOrRefusedWithACleanError) {
  for (const auto& target : fuzz::targets()) {
    const auto dir = fs::path(CRMT_SOURCE_DIR) / "fuzz" / "corpus" / target.name;
    ASSERT_TRUE(fs::is_directory(dir)) << dir;
    int inputs = 0;
    for (const auto& file : fs::directory_iterator(dir)) {
      std::ifstream in(file.path(), std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      // The entry swallows crmt::Error only: anything else thrown fails here.
      EXPECT_NO_THROW(target.entry(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())) << file.path();
      ++inputs;
    }
    EXPECT_GT(inputs, 0) << target.name << ": empty corpus";
  }
}

}  // namespace
}  // namespace crmt
