#include "crmt/data/embedded_dataset.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "crmt/core/error.h"

namespace fs = std::filesystem;

namespace {

const char* kSource = "/usr/share/datasets/fashion-mnist";

// Prepares a small cache (200 train / 100 test samples) once for the whole suite.
class Embedded : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("crmt_embedded_test_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
    if (!fs::exists(fs::path(kSource) / "train-images-idx3-ubyte.gz")) return;
    ASSERT_TRUE(crmt::prepare_embedded(small_options(dir())));
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  void SetUp() override {
    if (!fs::exists(fs::path(kSource) / "train-images-idx3-ubyte.gz")) GTEST_SKIP() << kSource << " not installed";
  }

  static std::string dir() { return (root_ / "cache").string(); }
  static crmt::EmbeddedPrepareOptions small_options(const std::string& d, uint64_t seed = 0) {
    crmt::EmbeddedPrepareOptions opt;
    opt.dir = d;
    opt.seed = seed;
    opt.num_train = 200;
    opt.num_test = 100;
    opt.show_progress = false;
    // A smaller utterance bank than the default (40 / 20 per class) keeps each preparation fast.
    opt.recipe.train_utterances_per_class = 8;
    opt.recipe.test_utterances_per_class = 4;
    return opt;
  }
  static crmt::EmbeddedOptions load_options(const std::string& d) {
    crmt::EmbeddedOptions opt;
    opt.dir = d;
    opt.prepare_if_missing = false;
    opt.show_progress = false;
    return opt;
  }
  // A copy of the shared cache that a test may damage.
  static std::string copy_cache(const std::string& name) {
    auto target = root_ / name;
    fs::remove_all(target);
    fs::copy(dir(), target);
    return target.string();
  }
  static nlohmann::json read_meta(const fs::path& path) {
    std::ifstream in(path);
    return nlohmann::json::parse(in);
  }
  static std::string load_error(const crmt::EmbeddedOptions& opt) {
    try {
      crmt::load_embedded(opt);
    } catch (const crmt::Error& e) {
      return e.what();
    }
    return "";
  }

  static fs::path root_;
};

fs::path Embedded::root_;

TEST_F(Embedded, LoadGivesNormalizedSplitsWithSpecs) {
  auto s = crmt::load_embedded(load_options(dir()));
  EXPECT_EQ(s.train.size(), 180);
  EXPECT_EQ(s.val.size(), 20);
  EXPECT_EQ(s.test.size(), 100);
  for (const auto* d : {&s.train, &s.val, &s.test}) {
    ASSERT_EQ(d->specs.size(), 2u);
    EXPECT_EQ(d->modality_names(), (std::vector<std::string>{"visual", "audio"}));
    EXPECT_EQ(d->all().inputs[0].sizes().vec(), (std::vector<int64_t>{d->size(), 1, 28, 28}));
    EXPECT_EQ(d->all().inputs[1].sizes().vec(), (std::vector<int64_t>{d->size(), 1, 32, 32}));
    EXPECT_EQ(d->all().inputs[0].scalar_type(), torch::kFloat);
    EXPECT_EQ(d->num_classes(), 10);
    EXPECT_GE(d->labels.min().item<int64_t>(), 0);
    EXPECT_LT(d->labels.max().item<int64_t>(), 10);
    EXPECT_NO_THROW(d->validate());
  }
  EXPECT_EQ(s.train.class_names, crmt::embedded_class_names());
  const auto& vis = s.train.specs[0];
  const auto& aud = s.train.specs[1];
  EXPECT_TRUE(vis.bounded());
  EXPECT_FALSE(aud.bounded());
  EXPECT_LT(vis.lower, 0);
  EXPECT_GT(vis.upper, 0);
  // The pixel range maps onto [lower, upper]: both ends are reached (noise saturates some pixels).
  EXPECT_NEAR(s.train.all().inputs[0].min().item<float>(), vis.lower, 1e-5);
  EXPECT_NEAR(s.train.all().inputs[0].max().item<float>(), vis.upper, 1e-5);
  // Normalized with train statistics: the whole train split (train + val) has mean 0, std 1.
  auto all_audio = torch::cat({s.train.all().inputs[1], s.val.all().inputs[1]});
  auto all_visual = torch::cat({s.train.all().inputs[0], s.val.all().inputs[0]});
  EXPECT_NEAR(all_audio.mean().item<float>(), 0.0, 1e-3);
  EXPECT_NEAR(all_audio.std(false).item<float>(), 1.0, 1e-3);
  EXPECT_NEAR(all_visual.mean().item<float>(), 0.0, 1e-3);
  EXPECT_NEAR(all_visual.std(false).item<float>(), 1.0, 1e-3);
}

TEST_F(Embedded, LabelsAreTheFashionMnistLabelsInOrder) {
  auto s = crmt::load_embedded(load_options(dir()));
  ASSERT_EQ(s.test.size(), 100);
  // The test split keeps the file order: the first Fashion-MNIST test labels are 9 (ankle boot), 2, 1, 1, 6.
  auto first = s.test.labels.slice(0, 0, 5);
  EXPECT_TRUE(first.equal(torch::tensor({9, 2, 1, 1, 6}, torch::kLong))) << first;
}

TEST_F(Embedded, SameSeedIsBitIdenticalOtherSeedDiffers) {
  auto again = (root_ / "again").string();
  auto other = (root_ / "other").string();
  ASSERT_TRUE(crmt::prepare_embedded(small_options(again)));
  ASSERT_TRUE(crmt::prepare_embedded(small_options(other, 7)));
  auto a = crmt::load_embedded(load_options(dir()));
  auto b = crmt::load_embedded(load_options(again));
  for (size_t m = 0; m < 2; ++m) {
    EXPECT_TRUE(a.train.all().inputs[m].equal(b.train.all().inputs[m])) << m;
    EXPECT_TRUE(a.test.all().inputs[m].equal(b.test.all().inputs[m])) << m;
  }
  EXPECT_TRUE(a.val.labels.equal(b.val.labels));
  auto o_opt = load_options(other);
  o_opt.data_seed = 7;
  auto c = crmt::load_embedded(o_opt);
  EXPECT_FALSE(a.test.all().inputs[1].equal(c.test.all().inputs[1]));
  // Same labels and images, other noise on the images.
  EXPECT_TRUE(a.test.labels.equal(c.test.labels));
  EXPECT_FALSE(a.test.all().inputs[0].equal(c.test.all().inputs[0]));
}

TEST_F(Embedded, MatchingCacheIsReusedAndForceRebuilds) {
  auto opt = small_options(dir());
  EXPECT_FALSE(crmt::prepare_embedded(opt));
  auto copy = copy_cache("reuse");
  auto mtime = fs::last_write_time(fs::path(copy) / "train_audio.f16");
  auto o = small_options(copy);
  o.force = true;
  EXPECT_TRUE(crmt::prepare_embedded(o));
  EXPECT_NE(fs::last_write_time(fs::path(copy) / "train_audio.f16"), mtime);
  // Another size (or seed) rebuilds instead of reusing.
  o.force = false;
  o.num_test = 50;
  EXPECT_TRUE(crmt::prepare_embedded(o));
  EXPECT_EQ(crmt::load_embedded(load_options(copy)).test.size(), 50);
  // No temporary files are left behind.
  for (const auto& e : fs::directory_iterator(copy))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
}

// The voices themselves are tested in embedded_synthesis_integration_test.cpp.
TEST_F(Embedded, MetaJsonRecordsVoicesVersionAndFiles) {
  // meta.json records the voices of each split.
  std::ifstream in(fs::path(dir()) / "meta.json");
  auto meta = nlohmann::json::parse(in);
  auto small = small_options(dir()).recipe;
  EXPECT_EQ(meta["voices"]["train"].size(), 10u * small.train_utterances_per_class);
  EXPECT_EQ(meta["voices"]["test"][0].get<std::string>(),
            crmt::embedded_voices(crmt::EmbeddedSplit::Test, small, 0)[0].describe());
  EXPECT_EQ(meta["version"].get<int>(), crmt::kEmbeddedVersion);
  EXPECT_EQ(meta["files"].size(), 6u);
}

TEST_F(Embedded, ACacheMadeWithOtherCorruptionSettingsIsRefusedNamingTheSetting) {
  auto opt = load_options(dir());
  auto recipe = small_options(dir()).recipe;  // the default corruption settings
  opt.recipe = recipe;
  EXPECT_NO_THROW(crmt::load_embedded(opt));
  recipe.visual_noise_std = 0.5;
  opt.recipe = recipe;
  auto msg = crmt::test::error_of([&] { crmt::load_embedded(opt); });
  EXPECT_NE(msg.find("meta.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("visual_noise_std"), std::string::npos) << msg;
  EXPECT_NE(msg.find("data.root"), std::string::npos) << msg;
  recipe = small_options(dir()).recipe;
  recipe.max_snr_db = 9;
  opt.recipe = recipe;
  EXPECT_NE(crmt::test::error_of([&] { crmt::load_embedded(opt); }).find("snr_db"), std::string::npos);
}

TEST_F(Embedded, StratifiedSubsetsAndValidationSizes) {
  auto opt = load_options(dir());
  opt.train_size = 100;
  opt.test_size = 40;
  opt.val_fraction = 0.2;
  opt.seed = 3;
  auto s = crmt::load_embedded(opt);
  EXPECT_EQ(s.train.size(), 80);
  EXPECT_EQ(s.val.size(), 20);
  EXPECT_EQ(s.test.size(), 40);
  // Class shares of the selected 100 follow those of the 200 to within one sample.
  auto full_opt = load_options(dir());
  full_opt.val_fraction = 0;
  auto full = crmt::load_embedded(full_opt);
  auto picked = torch::cat({s.train.labels, s.val.labels});
  auto counts = torch::bincount(picked, {}, 10);
  auto full_counts = torch::bincount(full.train.labels, {}, 10);
  for (int c = 0; c < 10; ++c)
    EXPECT_LE(std::abs(counts[c].item<double>() - full_counts[c].item<double>() / 2), 1.0) << c;
  // Another seed picks other samples; the same seed the same ones.
  auto again = crmt::load_embedded(opt);
  EXPECT_TRUE(again.train.all().inputs[1].equal(s.train.all().inputs[1]));
  opt.seed = 4;
  EXPECT_FALSE(crmt::load_embedded(opt).train.all().inputs[1].equal(s.train.all().inputs[1]));
  // stratified_indices itself is tested in embedded_synthesis_integration_test.cpp.
}

TEST_F(Embedded, TooLargeSubsetAndBadFractionAreErrors) {
  auto opt = load_options(dir());
  opt.train_size = 500;
  auto msg = load_error(opt);
  EXPECT_NE(msg.find("data.train_size"), std::string::npos) << msg;
  opt.train_size = 0;
  opt.val_fraction = 1.0;
  EXPECT_NE(load_error(opt).find("val_fraction"), std::string::npos);
  // A validation share of no sample, and fewer training samples than classes.
  opt.train_size = 20;
  opt.val_fraction = 0.01;
  EXPECT_NE(load_error(opt).find("is no sample"), std::string::npos);
  opt.train_size = 8;
  opt.val_fraction = 0;
  EXPECT_NE(load_error(opt).find("cannot cover its 10 classes"), std::string::npos) << load_error(opt);
}

TEST_F(Embedded, MissingFileNamesItAndAsksForForce) {
  auto copy = copy_cache("missing");
  fs::remove(fs::path(copy) / "test_audio.f16");
  auto opt = load_options(copy);
  opt.prepare_if_missing = true;  // meta.json exists: no silent re-preparation
  auto msg = load_error(opt);
  EXPECT_NE(msg.find("test_audio.f16"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing"), std::string::npos) << msg;
  EXPECT_NE(msg.find("crmt data prepare --force"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line";
}

// Truncated and corrupt array files: array_store_test.cpp (load_embedded passes load_array's errors on,
// as MissingFileNamesItAndAsksForForce shows).

TEST_F(Embedded, WrongVersionOrSeedOrBrokenMetaAreErrors) {
  auto copy = copy_cache("version");
  auto meta_path = fs::path(copy) / "meta.json";
  auto meta = read_meta(meta_path);
  meta["version"] = crmt::kEmbeddedVersion + 1;
  std::ofstream(meta_path) << meta.dump();
  auto msg = load_error(load_options(copy));
  EXPECT_NE(msg.find("meta.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("version"), std::string::npos) << msg;

  auto opt = load_options(dir());
  opt.data_seed = 5;
  msg = load_error(opt);
  EXPECT_NE(msg.find("seed"), std::string::npos) << msg;

  std::ofstream(meta_path) << "{ not json";
  msg = load_error(load_options(copy));
  EXPECT_NE(msg.find("meta.json"), std::string::npos) << msg;
}

TEST_F(Embedded, MetaJsonThatDisagreesWithItsFilesIsAnError) {
  auto copy = copy_cache("disagree");
  auto meta_path = fs::path(copy) / "meta.json";
  auto meta = read_meta(meta_path);
  auto count = meta;
  count["num_train"] = meta["num_train"].get<int64_t>() + 1;
  std::ofstream(meta_path) << count.dump();
  auto msg = load_error(load_options(copy));
  EXPECT_NE(msg.find("meta.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("num_train"), std::string::npos) << msg;

  auto shape = meta;
  shape["modalities"][0]["shape"] = {1, 27, 28};
  std::ofstream(meta_path) << shape.dump();
  msg = load_error(load_options(copy));
  EXPECT_NE(msg.find("meta.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("1,27,28"), std::string::npos) << msg;

  auto classes = meta;
  classes["class_names"] = {"a", "b"};
  std::ofstream(meta_path) << classes.dump();
  msg = load_error(load_options(copy));
  EXPECT_NE(msg.find("outside the 2 classes"), std::string::npos) << msg;
}

TEST_F(Embedded, MissingCacheWithoutPreparingIsAnError) {
  auto copy = copy_cache("nometa");
  fs::remove(fs::path(copy) / "meta.json");  // data files without meta.json do not count as a cache
  auto msg = load_error(load_options(copy));
  EXPECT_NE(msg.find("meta.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("crmt data prepare"), std::string::npos) << msg;
}

TEST_F(Embedded, MissingSourceFileNamesItAndKeepsTheCache) {
  auto copy = copy_cache("nosource");
  auto src = root_ / "source";
  fs::create_directories(src);
  for (const char* f : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"})
    fs::copy_file(fs::path(kSource) / f, src / f, fs::copy_options::overwrite_existing);
  auto opt = small_options(copy);
  opt.source_dir = src.string();
  opt.force = true;
  try {
    crmt::prepare_embedded(opt);
    FAIL() << "expected crmt::Error";
  } catch (const crmt::Error& e) {
    EXPECT_NE(std::string(e.what()).find("t10k-labels-idx1-ubyte.gz"), std::string::npos) << e.what();
  }
  // The sources are read before anything is touched: the old cache still loads.
  EXPECT_EQ(crmt::load_embedded(load_options(copy)).test.size(), 100);
}

}  // namespace

namespace {

// A preparation killed after its train split resumes from it: the saved files are kept as they are
// (not made again), the test split is made, and the cache is complete and loads.
TEST_F(Embedded, AnInterruptedPreparationResumesFromItsSavedTrainSplit) {
  const auto copy = copy_cache("resume");
  const auto meta = read_meta(fs::path(copy) / "meta.json");
  // What a kill between the train and test splits leaves: the train files and their stage record.
  nlohmann::json stage{{"key",
                        {{"format", meta["format"]}, {"version", meta["version"]}, {"seed", meta["seed"]},
                         {"num_train", meta["num_train"]}, {"num_test", meta["num_test"]}, {"recipe", meta["recipe"]}}},
                       {"files", nlohmann::json::array()}};
  for (const auto& f : meta["files"])
    if (f["split"] == "train") stage["files"].push_back(f);
  ASSERT_EQ(stage["files"].size(), 3u);
  fs::remove(fs::path(copy) / "meta.json");
  for (const char* f : {"test_visual.u8", "test_audio.f16", "test_labels.i64"}) fs::remove(fs::path(copy) / f);
  std::ofstream(fs::path(copy) / "train_stage.json") << stage.dump();
  const auto train_file = fs::path(copy) / "train_audio.f16";
  const auto written = fs::last_write_time(train_file);
  fs::last_write_time(train_file, written - std::chrono::hours(1));  // a rewrite would move it forward
  const auto marked = fs::last_write_time(train_file);

  ASSERT_TRUE(crmt::prepare_embedded(small_options(copy)));
  EXPECT_EQ(fs::last_write_time(train_file), marked) << "the saved train split was made again";
  EXPECT_FALSE(fs::exists(fs::path(copy) / "train_stage.json"));
  const auto resumed = read_meta(fs::path(copy) / "meta.json");
  EXPECT_EQ(resumed["files"].size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(resumed["files"][i]["name"], meta["files"][i]["name"]);
    if (resumed["files"][i]["role"] != "audio") {
      EXPECT_EQ(resumed["files"][i]["crc32"], meta["files"][i]["crc32"]) << i;
    }
  }
  EXPECT_EQ(resumed["modalities"], meta["modalities"]);  // train statistics from the saved split
  EXPECT_EQ(crmt::load_embedded(load_options(copy)).test.size(), 100);

  // With force, nothing saved is taken: the train split is made anew.
  auto other = small_options(copy);
  other.force = true;
  ASSERT_TRUE(crmt::prepare_embedded(other));
  EXPECT_NE(fs::last_write_time(train_file), marked);
}

}  // namespace
