// The dataset sources end to end on fixtures in each dataset's real on-disk layout: shapes, labels,
// transforms, and every kind of bad input (skipped and counted, or a one-line error naming the file).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "crmt/core/error.h"
#include "crmt/data/data_factory.h"
#include "crmt/data/fixtures/make_fixture.h"
#include "crmt/data/loader.h"
#include "crmt/data/npy_tensor.h"
#include "test_util.h"

namespace crmt {
namespace {

namespace fs = std::filesystem;

// One fixture per dataset for the whole suite (they take a few seconds to make).
fs::path fixture(const std::string& dataset) {
  static std::map<std::string, fs::path> made;
  auto it = made.find(dataset);
  if (it != made.end()) return it->second;
  FixtureOptions o;
  o.dataset = dataset;
  o.out_dir = (test::temp_dir("fixture_" + dataset) / "root").string();
  o.clips = 6;
  make_fixture(o);
  return made[dataset] = o.out_dir;
}

// A writable copy of a dataset's fixture, to damage.
fs::path copy_of(const std::string& dataset, const std::string& name) {
  auto dir = test::temp_dir(name) / "root";
  fs::copy(fixture(dataset), dir, fs::copy_options::recursive);
  return dir;
}

Config config_for(const std::string& dataset, const fs::path& root, std::vector<std::string> more = {}) {
  std::vector<std::string> o = {"data.name=" + dataset, "data.root=" + root.string(), "data.val_fraction=0",
                                "data." + dataset + ".image_size=32", "output.progress=false"};
  o.insert(o.end(), more.begin(), more.end());
  return Config::load("", o);
}

std::string error_of(const std::function<void()>& f) { return test::error_of(f); }

struct Expected {
  std::string dataset;
  std::vector<std::string> modalities;
  std::vector<std::vector<int64_t>> shapes;  // per sample
};

// Shown by name in test listings.
void PrintTo(const Expected& c, std::ostream* os) { *os << c.dataset; }

class EverySource : public ::testing::TestWithParam<Expected> {};

TEST_P(EverySource, ReadsItsFixtureWithThePapersShapes) {
  const auto& e = GetParam();
  auto splits = load_data(config_for(e.dataset, fixture(e.dataset)), false);
  EXPECT_EQ(splits.train.size(), 6);
  EXPECT_EQ(splits.test.size(), 6);
  EXPECT_EQ(splits.train.modality_names(), e.modalities);
  for (size_t m = 0; m < e.shapes.size(); ++m) EXPECT_EQ(splits.train.specs[m].shape, e.shapes[m]) << m;
  EXPECT_TRUE(splits.train.augment);
  EXPECT_FALSE(splits.test.augment);
  auto batch = splits.test.all();
  ASSERT_EQ(batch.size(), 6);
  for (size_t m = 0; m < e.shapes.size(); ++m) {
    std::vector<int64_t> want{6};
    want.insert(want.end(), e.shapes[m].begin(), e.shapes[m].end());
    EXPECT_EQ(batch.inputs[m].sizes().vec(), want) << e.modalities[m];
    EXPECT_TRUE(batch.inputs[m].isfinite().all().item<bool>());
    EXPECT_GT(batch.inputs[m].std().item<double>(), 0.01) << e.modalities[m] << " carries signal";
  }
  // Both splits cover the same classes; the test transform is fixed, the training one is drawn.
  EXPECT_TRUE(torch::equal(std::get<0>(at::_unique(splits.train.labels)), std::get<0>(at::_unique(splits.test.labels))));
  EXPECT_TRUE(torch::equal(splits.test.all().inputs[0], batch.inputs[0]));
  auto idx = torch::arange(3);
  EXPECT_TRUE(torch::equal(splits.train.batch(idx, 5).inputs[0], splits.train.batch(idx, 5).inputs[0]));
  EXPECT_FALSE(torch::equal(splits.train.batch(idx, 5).inputs[0], splits.train.batch(idx, 6).inputs[0]));
  // Images are ImageNet-normalized: inside each channel's bounds.
  const auto& spec = splits.test.specs[0];
  if (spec.per_channel())
    for (int64_t c = 0; c < 3; ++c) {
      auto ch = batch.inputs[0].select(2, c);
      EXPECT_GE(ch.min().item<double>(), spec.channel_lower[c] - 1e-5);
      EXPECT_LE(ch.max().item<double>(), spec.channel_upper[c] + 1e-5);
    }
}

INSTANTIATE_TEST_SUITE_P(
    Datasets, EverySource,
    ::testing::Values(Expected{"kinetics_sounds", {"visual", "audio"}, {{3, 3, 32, 32}, {1, 1024, 128}}},
                      Expected{"vggsound", {"visual", "audio"}, {{3, 3, 32, 32}, {1, 129, 626}}},
                      Expected{"ucf101", {"rgb", "flow", "rgb_diff"}, {{3, 3, 32, 32}, {3, 2, 32, 32}, {3, 3, 32, 32}}},
                      Expected{"cremad", {"visual", "audio"}, {{1, 3, 32, 32}, {1, 257, 188}}}),
    [](const auto& info) { return info.param.dataset; });

TEST(KineticsSounds, SpectrogramIsTheFileAndFramesFollowTheOfficialRule) {
  auto root = fixture("kinetics_sounds");
  auto splits = load_data(config_for("kinetics_sounds", root), false);
  const auto& clips = splits.test;
  auto b = clips.batch(torch::tensor({0}, torch::kLong));
  // The test split reads its first clip: its .npy as it is.
  std::ifstream index(root / "ks_test_overlap.txt");
  std::string name;
  int label;
  index >> name >> label;
  auto npy = read_npy((root / "test_spec" / (name + ".npy")).string());
  EXPECT_TRUE(torch::equal(b.inputs[1][0][0], npy));
  EXPECT_EQ(b.labels[0].item<int64_t>(), label);
  EXPECT_EQ(clips.class_names.size(), 31u);
  EXPECT_EQ(clips.class_names[30], "tickling");
}

TEST(BadInput, MissingFolderAndTooFewFramesAreSkippedInTrainingAndFatalInEvaluation) {
  auto root = copy_of("kinetics_sounds", "bad_frames");
  std::string first_train, second_train;
  {
    std::ifstream in(root / "ks_train_overlap.txt");
    int l;
    in >> first_train >> l >> second_train;
  }
  fs::remove_all(root / "train-frames-1fps/train" / first_train);
  for (int k = 4; k <= 10; ++k) fs::remove(root / "train-frames-1fps/train" / second_train / fmt::format("frame_{:05d}.jpg", k));
  auto splits = load_data(config_for("kinetics_sounds", root), false);
  EXPECT_EQ(splits.train.size(), 4) << "the two clips are left out";
  const auto message = error_of([&] { load_data(config_for("kinetics_sounds", root, {"data.on_bad_sample=error"}), false); });
  EXPECT_NE(message.find(first_train), std::string::npos) << message;
  EXPECT_NE(message.find("frame folder missing"), std::string::npos) << message;
}

TEST(BadInput, CorruptJpegAndWrongSpectrogramAreCountedOrNamed) {
  auto root = copy_of("kinetics_sounds", "bad_files");
  std::string name;
  {
    std::ifstream in(root / "ks_test_overlap.txt");
    in >> name;
  }
  for (int k = 1; k <= 10; ++k) {
    std::ofstream(root / "val-frames-1fps/test" / name / fmt::format("frame_{:05d}.jpg", k), std::ios::trunc) << "not a jpeg";
  }
  auto strict = load_data(config_for("kinetics_sounds", root), false);
  auto message = error_of([&] { strict.test.all(); });
  EXPECT_NE(message.find(name), std::string::npos) << message;
  EXPECT_NE(message.find(".jpg"), std::string::npos) << message;

  auto lenient = load_data(config_for("kinetics_sounds", root, {"data.on_bad_sample=skip"}), false);
  LoaderOptions o;
  o.batch_size = 4;
  o.workers = 2;
  Loader loader(lenient.test, o);
  int64_t seen = 0;
  while (auto b = loader.next()) seen += b->size();
  EXPECT_EQ(seen, 5);
  EXPECT_EQ(lenient.test.bad->count(), 1);

  // A spectrogram of the wrong shape, then of the wrong dtype.
  auto fresh = copy_of("kinetics_sounds", "bad_npy");
  write_npy((fresh / "test_spec" / (name + ".npy")).string(), torch::zeros({10, 128}));
  message = error_of([&] { load_data(config_for("kinetics_sounds", fresh), false).test.all(); });
  EXPECT_NE(message.find(name + ".npy"), std::string::npos) << message;
  EXPECT_NE(message.find("[1024, 128]"), std::string::npos) << message;
  write_npy((fresh / "test_spec" / (name + ".npy")).string(), torch::zeros({1024, 128}, torch::kDouble));
  message = error_of([&] { load_data(config_for("kinetics_sounds", fresh), false).test.all(); });
  EXPECT_NE(message.find("float32"), std::string::npos) << message;
}

TEST(BadInput, IndexRowsWithUnknownClassesEscapingNamesOrNothingAtAll) {
  auto root = copy_of("kinetics_sounds", "bad_index");
  {
    std::ofstream out(root / "ks_train_overlap.txt", std::ios::app);
    out << "some_clip 99\n../../etc/passwd 3\nno_label_here\n";
  }
  auto splits = load_data(config_for("kinetics_sounds", root), false);
  EXPECT_EQ(splits.train.size(), 6) << "three bad rows left out";
  auto message = error_of([&] { load_data(config_for("kinetics_sounds", root, {"data.on_bad_sample=error"}), false); });
  EXPECT_NE(message.find("ks_train_overlap.txt:7"), std::string::npos) << message;
  EXPECT_NE(message.find("label 99"), std::string::npos) << message;
  {
    std::ofstream out(root / "ks_train_overlap.txt", std::ios::trunc);
    out << "../../etc/passwd 3\n";
  }
  message = error_of([&] { load_data(config_for("kinetics_sounds", root, {"data.on_bad_sample=error"}), false); });
  EXPECT_NE(message.find("climbs out of the data root"), std::string::npos) << message;
  message = error_of([&] { load_data(config_for("kinetics_sounds", root), false); });
  EXPECT_NE(message.find("the split is empty"), std::string::npos) << message;
  fs::remove(root / "ks_train_overlap.txt");
  message = error_of([&] { load_data(config_for("kinetics_sounds", root), false); });
  EXPECT_NE(message.find("ks_train_overlap.txt: index file not found"), std::string::npos) << message;
}

TEST(BadInput, OtherDatasetsNameTheirOwnFiles) {
  // VGGSound: a test label without training rows; UCF101: a missing flow folder; CREMA-D: an
  // unknown emotion.
  auto vgg = copy_of("vggsound", "bad_vgg");
  {
    std::ofstream out(vgg / "vggsound.csv", std::ios::app);
    out << "abcdefghijk,30,\"never, trained\",test\n";
  }
  auto message = error_of([&] { load_data(config_for("vggsound", vgg), false); });
  EXPECT_NE(message.find("never, trained"), std::string::npos) << message;

  auto ucf = copy_of("ucf101", "bad_ucf");
  std::string video;
  for (const auto& e : fs::directory_iterator(ucf / "flow/u")) video = e.path().filename().string();
  fs::remove_all(ucf / "flow/u" / video);
  message = error_of([&] { load_data(config_for("ucf101", ucf, {"data.on_bad_sample=error"}), false); });
  EXPECT_NE(message.find("flow folder missing"), std::string::npos) << message;
  EXPECT_EQ(load_data(config_for("ucf101", ucf), false).train.size() + load_data(config_for("ucf101", ucf), false).test.size(), 11);

  auto cremad = copy_of("cremad", "bad_cremad");
  {
    std::ofstream out(cremad / "test.csv", std::ios::app);
    out << "1001_DFA_XYZ_XX,XYZ\r\n";
  }
  message = error_of([&] { load_data(config_for("cremad", cremad), false); });
  EXPECT_NE(message.find("test.csv:7"), std::string::npos) << message;
  EXPECT_NE(message.find("emotion 'XYZ'"), std::string::npos) << message;
}

}  // namespace
}  // namespace crmt
