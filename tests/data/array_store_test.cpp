#include "crmt/data/array_store.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "crmt/core/error.h"
#include "test_util.h"

namespace crmt {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::error_of;

TEST(ArrayStore, CrcIsZlibsCrc32) {
  const std::string check = "123456789";  // the CRC-32 check value of this string is 0xCBF43926
  EXPECT_EQ(crc_of(check.data(), check.size()), 0xCBF43926u);
  EXPECT_EQ(crc_of(check.data(), 0), 0u);
}

TEST(ArrayStore, SavedFileIsTheRawElementsAndTheEntryDescribesIt) {
  auto dir = test::temp_dir("store");
  auto t = torch::tensor({1, -2, 300}, torch::kLong).reshape({3, 1});
  ArrayFile f = save_array(dir.string(), "x.i64", "train", "labels", t);
  EXPECT_EQ(test::read_file(dir / "x.i64"), std::string(static_cast<const char*>(t.data_ptr()), 24));
  EXPECT_EQ(f.bytes, 24u);
  EXPECT_EQ(f.crc, crc_of(t.data_ptr(), 24));
  // The manifest entry, field for field as caches on disk have it.
  json expected{{"name", "x.i64"}, {"split", "train"}, {"role", "labels"}, {"dtype", "int64"},
                {"shape", {3, 1}},   {"bytes", 24},      {"crc32", f.crc}};
  EXPECT_EQ(array_file_json(f), expected);
}

TEST(ArrayStore, EveryDtypeRoundTrips) {
  auto dir = test::temp_dir("store");
  const std::vector<std::pair<at::Tensor, std::string>> arrays{
      {torch::randint(0, 256, {4, 1, 5, 5}, torch::kLong).to(torch::kByte), "uint8"},
      {torch::randn({2, 3, 4}).to(torch::kHalf), "float16"},
      {torch::arange(7, torch::kLong), "int64"}};
  for (const auto& [t, dtype] : arrays) {
    // A non-contiguous view is stored in its logical order.
    auto view = t.dim() > 1 ? t.transpose(0, 1) : t;
    auto f = save_array(dir.string(), "a_" + dtype, "test", "visual", view);
    EXPECT_EQ(f.dtype, dtype);
    auto back = load_array(dir.string(), array_file_json(f), (dir / "meta.json").string());
    EXPECT_EQ(back.scalar_type(), t.scalar_type()) << dtype;
    EXPECT_TRUE(back.equal(view)) << dtype;
  }
  auto msg = error_of([&] { save_array(dir.string(), "f.f32", "test", "audio", torch::zeros({2})); });
  EXPECT_NE(msg.find("f.f32"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(dir / "f.f32"));
}

// Saves a small array and returns its entry; `path` is where the array lies.
json saved_entry(const fs::path& dir, const std::string& name, fs::path& path) {
  path = dir / name;
  return array_file_json(save_array(dir.string(), name, "train", "visual", torch::arange(5000, torch::kLong)));
}

TEST(ArrayStore, TruncatedAndCorruptFilesAreErrors) {
  auto dir = test::temp_dir("store");
  const auto meta = (dir / "meta.json").string();
  fs::path file;
  auto entry = saved_entry(dir, "train_visual.u8", file);
  fs::resize_file(file, fs::file_size(file) - 10);
  auto msg = error_of([&] { load_array(dir.string(), entry, meta); });
  EXPECT_NE(msg.find("train_visual.u8"), std::string::npos) << msg;
  EXPECT_NE(msg.find("bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("crmt data prepare --force"), std::string::npos) << msg;

  entry = saved_entry(dir, "train_audio.f16", file);
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1000);
    const char junk[4] = {1, 2, 3, 4};
    f.write(junk, 4);
  }
  msg = error_of([&] { load_array(dir.string(), entry, meta); });
  EXPECT_NE(msg.find("train_audio.f16"), std::string::npos) << msg;
  EXPECT_NE(msg.find("checksum"), std::string::npos) << msg;
}

TEST(ArrayStore, MissingFileAndBadEntriesAreErrors) {
  auto dir = test::temp_dir("store");
  const auto meta = (dir / "meta.json").string();
  fs::path file;
  auto entry = saved_entry(dir, "a.i64", file);
  fs::remove(file);
  auto msg = error_of([&] { load_array(dir.string(), entry, meta); });
  EXPECT_NE(msg.find("a.i64"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line";

  entry = saved_entry(dir, "b.i64", file);
  auto wrong_size = entry;
  wrong_size["bytes"] = 8;  // shape [5000] of int64 needs 40000
  msg = error_of([&] { load_array(dir.string(), wrong_size, meta); });
  EXPECT_NE(msg.find("b.i64"), std::string::npos) << msg;
  EXPECT_NE(msg.find("40000"), std::string::npos) << msg;
  auto bad_dtype = entry;
  bad_dtype["dtype"] = "float64";
  msg = error_of([&] { load_array(dir.string(), bad_dtype, meta); });
  EXPECT_NE(msg.find("meta.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("float64"), std::string::npos) << msg;
  auto no_crc = entry;
  no_crc.erase("crc32");
  msg = error_of([&] { load_array(dir.string(), no_crc, meta); });
  EXPECT_NE(msg.find("meta.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("malformed"), std::string::npos) << msg;
}

TEST(ArrayStore, FilesPresentChecksNamesAndSizes) {
  auto dir = test::temp_dir("store");
  fs::path a, b;
  json files{saved_entry(dir, "a.i64", a), saved_entry(dir, "b.i64", b)};
  std::string why;
  EXPECT_TRUE(array_files_present(dir.string(), files, why)) << why;
  fs::resize_file(b, 8);
  EXPECT_FALSE(array_files_present(dir.string(), files, why));
  EXPECT_NE(why.find("b.i64"), std::string::npos) << why;
  fs::remove(a);
  EXPECT_FALSE(array_files_present(dir.string(), files, why));
  EXPECT_NE(why.find("a.i64"), std::string::npos) << why;
}

TEST(ArrayStore, ManifestIsIndentedJsonEndingInANewline) {
  auto dir = test::temp_dir("store");
  const auto path = (dir / "meta.json").string();
  json manifest{{"format", "x"}, {"files", json::array({{{"name", "a"}}})}};
  write_manifest(path, manifest);
  EXPECT_EQ(test::read_file(path), manifest.dump(2) + "\n");
  json back;
  std::string why;
  ASSERT_TRUE(read_manifest(path, back, &why)) << why;
  EXPECT_EQ(back, manifest);

  EXPECT_FALSE(read_manifest((dir / "none.json").string(), back, &why));
  EXPECT_EQ(why, "missing");
  std::ofstream(dir / "bad.json") << "{ not json";
  EXPECT_FALSE(read_manifest((dir / "bad.json").string(), back, &why));
  EXPECT_NE(why.find("not valid JSON"), std::string::npos) << why;
  EXPECT_FALSE(read_manifest((dir / "bad.json").string(), back, nullptr));
}

}  // namespace
}  // namespace crmt
