#include "crmt/core/atomic_file.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "crmt/core/error.h"
#include "test_util.h"

namespace crmt {
namespace {

namespace fs = std::filesystem;
using test::error_of;

// Names in `dir` other than the expected files: a left-over temporary would show up here.
std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(AtomicFile, WritesTextBytesAndStreams) {
  auto dir = test::temp_dir("atomic");
  write_file_atomically((dir / "a.txt").string(), std::string("hello\n"));
  EXPECT_EQ(test::read_file(dir / "a.txt"), "hello\n");
  const char bytes[4] = {0, 1, '\n', char(0xff)};  // binary: no newline translation, embedded zeros kept
  write_file_atomically((dir / "b.bin").string(), bytes, sizeof bytes);
  EXPECT_EQ(test::read_file(dir / "b.bin"), std::string(bytes, sizeof bytes));
  write_file_atomically((dir / "sub" / "c.txt").string(), [](std::ostream& out) { out << "x=" << 3; });
  EXPECT_EQ(test::read_file(dir / "sub" / "c.txt"), "x=3");  // parent folders are created
}

TEST(AtomicFile, ReplacesAnExistingFileAndLeavesNoTemporary) {
  auto dir = test::temp_dir("atomic");
  const auto path = dir / "f.txt";
  std::ofstream(path) << "an older and longer content";
  write_file_atomically(path.string(), std::string("new"));
  EXPECT_EQ(test::read_file(path), "new");
  EXPECT_EQ(entries(dir), std::vector<std::string>{"f.txt"});
}

TEST(AtomicFile, FailureNamesThePathAndLeavesNoTemporary) {
  auto dir = test::temp_dir("atomic");
  std::ofstream(dir / "plain") << "a regular file, not a folder";
  const auto path = (dir / "plain" / "f.txt").string();
  auto msg = error_of([&] { write_file_atomically(path, std::string("data")); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_EQ(entries(dir), std::vector<std::string>{"plain"});
  // A writer that throws leaves neither the file nor its temporary behind.
  EXPECT_THROW(write_file_atomically((dir / "g.txt").string(), [](std::ostream&) { fail("writer failed"); }), Error);
  EXPECT_EQ(entries(dir), std::vector<std::string>{"plain"});
  // A failed rewrite leaves the previous content.
  write_file_atomically((dir / "g.txt").string(), std::string("old"));
  EXPECT_THROW(write_file_atomically((dir / "g.txt").string(), [](std::ostream& out) {
                 out << "half";
                 fail("writer failed");
               }),
               Error);
  EXPECT_EQ(test::read_file(dir / "g.txt"), "old");
  EXPECT_EQ(entries(dir), (std::vector<std::string>{"g.txt", "plain"}));
}

}  // namespace
}  // namespace crmt

namespace crmt {
namespace {

// Switches the simulated full disk off however the test ends.
struct FullDisk {
  explicit FullDisk(int64_t bytes) { simulate_full_disk_after(bytes); }
  ~FullDisk() { simulate_full_disk_after(-1); }
};

TEST(AtomicFile, FullDiskIsAnErrorNamingTheFileAndKeepsThePreviousOne) {
  auto dir = test::temp_dir("atomic_full");
  const auto path = dir / "results.json";
  write_file_atomically(path.string(), std::string("previous results"));
  {
    FullDisk full(10);
    const auto msg = test::error_of([&] { write_file_atomically(path.string(), std::string(1000, 'x')); });
    EXPECT_NE(msg.find("disk full"), std::string::npos) << msg;
    EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
    EXPECT_EQ(std::count(msg.begin(), msg.end(), '\n'), 0) << "one line";
  }
  EXPECT_EQ(test::read_file(path), "previous results");
  EXPECT_EQ(entries(dir), std::vector<std::string>{"results.json"}) << "no temporary left";
  // With room again, writing works.
  write_file_atomically(path.string(), std::string("new results"));
  EXPECT_EQ(test::read_file(path), "new results");
}

}  // namespace
}  // namespace crmt
