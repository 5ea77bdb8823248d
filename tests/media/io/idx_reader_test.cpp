#include "crmt/media/io/idx_reader.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "crmt/core/error.h"

namespace fs = std::filesystem;

namespace {

class IdxReader : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("crmt_idx_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // Writes raw bytes gzip-compressed.
  void write_gz_bytes(const std::string& file, const std::vector<uint8_t>& bytes) {
    gzFile f = gzopen(file.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    if (!bytes.empty()) {
      ASSERT_EQ(gzwrite(f, bytes.data(), bytes.size()), static_cast<int>(bytes.size()));
    }
    ASSERT_EQ(gzclose(f), Z_OK);
  }

  std::string error_of(const std::string& file, int dims = -1) {
    try {
      crmt::read_idx(file, dims);
    } catch (const crmt::Error& e) {
      return e.what();
    }
    return "";
  }

  fs::path dir_;
};

crmt::IdxArray sample_array() {
  crmt::IdxArray a;
  a.shape = {3, 2, 5};
  for (int i = 0; i < 30; ++i) a.data.push_back(static_cast<uint8_t>(i * 7 + 1));
  return a;
}

TEST_F(IdxReader, RoundTripThroughGzip) {
  auto a = sample_array();
  crmt::write_idx_gz(path("a.idx3.gz"), a);
  auto b = crmt::read_idx(path("a.idx3.gz"), 3);
  EXPECT_EQ(b.shape, a.shape);
  EXPECT_EQ(b.data, a.data);
  EXPECT_EQ(b.numel(), 30);
}

TEST_F(IdxReader, ReadsOnlyTheFirstItemsWhenAsked) {
  auto a = sample_array();
  crmt::write_idx_gz(path("a.gz"), a);
  auto b = crmt::read_idx(path("a.gz"), 3, 2);
  EXPECT_EQ(b.shape, (std::vector<int64_t>{2, 2, 5}));
  EXPECT_EQ(b.data, std::vector<uint8_t>(a.data.begin(), a.data.begin() + 20));
  EXPECT_EQ(crmt::read_idx(path("a.gz"), 3, 10).shape[0], 3);
}

TEST_F(IdxReader, ReadsHandWrittenBigEndianHeader) {
  // magic 0x00000801, one dimension of 258 = 0x00000102 entries.
  std::vector<uint8_t> bytes{0, 0, 8, 1, 0, 0, 1, 2};
  for (int i = 0; i < 258; ++i) bytes.push_back(static_cast<uint8_t>(i % 10));
  write_gz_bytes(path("labels.gz"), bytes);
  auto a = crmt::read_idx(path("labels.gz"), 1);
  ASSERT_EQ(a.shape, std::vector<int64_t>{258});
  EXPECT_EQ(a.data[257], 257 % 10);
}

TEST_F(IdxReader, BadMagicNamesTheFile) {
  write_gz_bytes(path("bad.gz"), {0x1f, 0x00, 8, 1, 0, 0, 0, 1, 5});
  auto msg = error_of(path("bad.gz"));
  EXPECT_NE(msg.find("bad.gz"), std::string::npos) << msg;
  EXPECT_NE(msg.find("magic"), std::string::npos) << msg;
}

TEST_F(IdxReader, WrongElementTypeAndDimensions) {
  write_gz_bytes(path("float.gz"), {0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0});
  EXPECT_NE(error_of(path("float.gz")).find("element type"), std::string::npos);
  crmt::write_idx_gz(path("a.gz"), sample_array());
  auto msg = error_of(path("a.gz"), 1);
  EXPECT_NE(msg.find("3 dimensions but 1"), std::string::npos) << msg;
}

TEST_F(IdxReader, TruncatedDataAndHeader) {
  write_gz_bytes(path("short.gz"), {0, 0, 8, 2, 0, 0, 0, 4, 0, 0, 0, 4, 1, 2, 3});
  auto msg = error_of(path("short.gz"));
  EXPECT_NE(msg.find("short.gz"), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated idx data: 3 of 16"), std::string::npos) << msg;

  write_gz_bytes(path("header.gz"), {0, 0, 8, 3, 0, 0, 0, 4});
  EXPECT_NE(error_of(path("header.gz")).find("truncated idx header"), std::string::npos);

  write_gz_bytes(path("empty.gz"), {});
  EXPECT_NE(error_of(path("empty.gz")).find("truncated"), std::string::npos);
}

TEST_F(IdxReader, HugeClaimedSizesAreRefusedWithoutAllocatingThem) {
  // Found by fuzz_idx. A header claiming 35 GB over 4 bytes of data: truncated, not out of memory.
  write_gz_bytes(path("claims.gz"), {0, 0, 8, 3, 0, 0, 0x2e, 0xe4, 0, 0, 0x10, 0, 0, 0, 0, 0xe4, 1, 2, 3, 4});
  EXPECT_NE(error_of(path("claims.gz")).find("truncated idx data: 4 of"), std::string::npos) << error_of(path("claims.gz"));
  // Sizes whose product overflows 64 bits (undefined behaviour before): implausibly large.
  write_gz_bytes(path("overflow.gz"), {0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
  EXPECT_NE(error_of(path("overflow.gz")).find("implausibly large"), std::string::npos) << error_of(path("overflow.gz"));
}

TEST_F(IdxReader, TruncatedGzipStream) {
  crmt::IdxArray a;
  a.shape = {4096};
  for (int i = 0; i < 4096; ++i) a.data.push_back(static_cast<uint8_t>((i * 2654435761u) >> 24));
  crmt::write_idx_gz(path("full.gz"), a);
  auto size = fs::file_size(path("full.gz"));
  fs::copy_file(path("full.gz"), path("cut.gz"));
  fs::resize_file(path("cut.gz"), size / 2);
  auto msg = error_of(path("cut.gz"));
  EXPECT_NE(msg.find("cut.gz"), std::string::npos) << msg;
  EXPECT_FALSE(msg.empty());
}

TEST_F(IdxReader, TrailingBytesAndMissingFile) {
  write_gz_bytes(path("long.gz"), {0, 0, 8, 1, 0, 0, 0, 2, 1, 2, 3});
  EXPECT_NE(error_of(path("long.gz")).find("trailing bytes"), std::string::npos);
  auto msg = error_of(path("nope.gz"));
  EXPECT_NE(msg.find("nope.gz: file not found"), std::string::npos) << msg;
}

TEST_F(IdxReader, ReadsInstalledFashionMnistLabels) {
  const std::string file = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
  if (!fs::exists(file)) GTEST_SKIP() << file << " not installed";
  auto a = crmt::read_idx(file, 1);
  ASSERT_EQ(a.shape, std::vector<int64_t>{10000});
  std::vector<int> counts(10, 0);
  for (auto v : a.data) {
    ASSERT_LT(v, 10);
    counts[v]++;
  }
  for (int c : counts) EXPECT_EQ(c, 1000);
}

}  // namespace
