// `crmt data prepare` on videos made by Debian's ffmpeg: good clips land in the loader's layout,
// every kind of bad video is recorded as failed with its reason while the run goes on, and a rerun
// skips what is done.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "crmt/data/data_factory.h"
#include "crmt/data/npy_tensor.h"
#include "crmt/data/prepare/prepare.h"
#include "crmt/data/sources/clip_files.h"
#include "test_util.h"

namespace crmt {
namespace {

namespace fs = std::filesystem;

void sh(const std::string& command) { ASSERT_EQ(std::system((command + " >/dev/null 2>&1").c_str()), 0) << command; }

// A KS-like clip: moving test pattern at 25 fps, a tone at 44.1 kHz stereo, AAC in MP4.
void make_clip(const fs::path& path, double seconds, bool video = true, bool audio = true, const std::string& extra = "") {
  std::string cmd = "ffmpeg -nostdin -y ";
  if (video) cmd += fmt::format("-f lavfi -i testsrc2=s=96x72:r=25:d={} ", seconds);
  if (audio) cmd += fmt::format("-f lavfi -i sine=frequency=660:sample_rate=44100:duration={} -ac 2 -c:a aac ", seconds);
  if (video) cmd += "-c:v libx264 -pix_fmt yuv420p ";
  sh(cmd + extra + " " + path.string());
}

void truncate_to(const fs::path& path, double share) {
  fs::resize_file(path, static_cast<uintmax_t>(fs::file_size(path) * share));
}

std::map<std::string, nlohmann::json> read_manifest(const fs::path& path) {
  std::map<std::string, nlohmann::json> m;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) {
      auto j = nlohmann::json::parse(line);
      m[j["clip"].get<std::string>()] = j;
    }
  return m;
}

// The videos folder of a small Kinetics-Sounds download with one clip of every kind of trouble.
fs::path ks_download(const fs::path& dir) {
  const auto v = dir / "videos";
  fs::create_directories(v / "bowling");
  make_clip(v / "bowling" / "goodclip001_000000_000010.mp4", 10);
  make_clip(v / "bowling" / "goodclip002_000010_000020.mp4", 10);
  make_clip(v / "bowling" / "testclip001_000005_000015.mp4", 10);  // test names are bare ids
  make_clip(v / "bowling" / "truncmoov01_000000_000010.mp4", 10);  // moov at the end: cut off
  truncate_to(v / "bowling" / "truncmoov01_000000_000010.mp4", 0.5);
  make_clip(v / "bowling" / "truncdata01_000000_000010.mp4", 10, true, true, "-movflags +faststart");
  truncate_to(v / "bowling" / "truncdata01_000000_000010.mp4", 0.5);  // moov first: the samples are cut
  {
    std::ofstream garbage(v / "bowling" / "garbage0001_000000_000010.mp4", std::ios::binary);
    std::mt19937 rng(1);
    for (int i = 0; i < 50000; ++i) garbage.put(static_cast<char>(rng()));
  }
  make_clip(v / "bowling" / "noaudio0001_000000_000010.mp4", 10, true, false);
  make_clip(v / "bowling" / "novideo0001_000000_000010.mp4", 10, false, true);
  std::ofstream(v / "bowling" / "emptyfile01_000000_000010.mp4").close();
  make_clip(v / "bowling" / "shortclip01_000000_000010.mp4", 0.5);
  // An AVI whose codec tag no decoder knows.
  sh("ffmpeg -nostdin -y -f lavfi -i testsrc2=s=96x72:r=25:d=3 -f lavfi -i sine=duration=3 -c:a pcm_s16le -c:v mpeg4 "
     "-vtag XVID " + (dir / "x.avi").string());
  {
    std::ifstream in(dir / "x.avi", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    for (size_t p; (p = bytes.find("XVID")) != std::string::npos;) bytes.replace(p, 4, "QQQZ");
    for (size_t p; (p = bytes.find("xvid")) != std::string::npos;) bytes.replace(p, 4, "qqqz");
    std::ofstream(v / "bowling" / "unsupport01_000000_000010.avi", std::ios::binary) << bytes;
  }
  std::ofstream train(v / "ks_train_overlap.txt");
  for (const char* n : {"goodclip001_000000_000010", "goodclip002_000010_000020", "truncmoov01_000000_000010",
                        "truncdata01_000000_000010", "garbage0001_000000_000010", "noaudio0001_000000_000010",
                        "novideo0001_000000_000010", "emptyfile01_000000_000010", "shortclip01_000000_000010",
                        "unsupport01_000000_000010"})
    train << n << " 2\n";
  std::ofstream(v / "ks_test_overlap.txt") << "testclip001 2\nmissingclip 3\n";
  return v;
}

TEST(PrepareVideos, KineticsSoundsBadClipsAreRecordedAndTheRunGoesOn) {
  const auto dir = test::temp_dir("prepare_ks");
  const auto videos = ks_download(dir);
  PrepareOptions o;
  o.dataset = "kinetics_sounds";
  o.videos_dir = videos.string();
  o.out_dir = (dir / "out").string();
  o.workers = 2;
  const auto s = prepare_videos(o);
  EXPECT_EQ(s.clips, 12);
  EXPECT_EQ(s.prepared, 3);
  EXPECT_EQ(s.failed, 8);
  EXPECT_EQ(s.missing, 1);
  const auto manifest = read_manifest(dir / "out" / "prepare_manifest.jsonl");
  auto error_of = [&](const std::string& key) {
    const auto it = manifest.find(key);
    return it == manifest.end() || !it->second.contains("error") ? std::string("<none>") : it->second["error"].get<std::string>();
  };
  EXPECT_EQ(manifest.at("train/goodclip001_000000_000010")["status"], "done");
  EXPECT_EQ(manifest.at("test/testclip001")["status"], "done");
  EXPECT_EQ(manifest.at("test/missingclip")["status"], "missing");
  EXPECT_NE(error_of("train/truncmoov01_000000_000010").find("moov"), std::string::npos) << error_of("train/truncmoov01_000000_000010");
  EXPECT_NE(error_of("train/truncdata01_000000_000010").find("truncdata01"), std::string::npos);
  EXPECT_NE(error_of("train/garbage0001_000000_000010").find("garbage0001"), std::string::npos);
  EXPECT_NE(error_of("train/noaudio0001_000000_000010").find("no audio stream"), std::string::npos);
  EXPECT_NE(error_of("train/novideo0001_000000_000010").find("no video stream"), std::string::npos);
  EXPECT_NE(error_of("train/emptyfile01_000000_000010").find("emptyfile01"), std::string::npos);
  EXPECT_NE(error_of("train/shortclip01_000000_000010").find("too short"), std::string::npos);
  EXPECT_NE(error_of("train/unsupport01_000000_000010").find("unsupported codec"), std::string::npos)
      << error_of("train/unsupport01_000000_000010");
  for (const auto& [key, entry] : manifest)
    if (entry["status"] == "failed") {
      EXPECT_EQ(entry["error"].get<std::string>().find('\n'), std::string::npos) << key;
    }

  // The loader's layout: 12 frames for 10 s at 25 fps (ffmpeg's -r 1), the [1024, 128] fbank.
  const auto out = dir / "out";
  EXPECT_EQ(count_jpeg_files((out / "train-frames-1fps/train/goodclip001_000000_000010").string()), 12);
  EXPECT_TRUE(fs::exists(out / "train-frames-1fps/train/goodclip001_000000_000010/frame_00012.jpg"));
  EXPECT_EQ(count_jpeg_files((out / "val-frames-1fps/test/testclip001").string()), 12);
  const auto spec = read_npy((out / "test_spec/testclip001.npy").string());
  EXPECT_EQ(spec.sizes().vec(), (std::vector<int64_t>{1024, 128}));
  // 10 s at 16 kHz: 998 fbank rows, then zero rows (normalised: 0.438)
  EXPECT_NEAR(spec[1000][5].item<float>(), 4.503877f / 10.282552f, 1e-5);
  EXPECT_GT(std::abs(spec[500][5].item<float>() - 4.503877f / 10.282552f), 1e-3);
  EXPECT_FALSE(fs::exists(out / "train_spec/noaudio0001_000000_000010.npy"));
  EXPECT_FALSE(fs::exists(out / "train-frames-1fps/train/noaudio0001_000000_000010"));
  EXPECT_FALSE(fs::exists(out / ".prepare-staging"));
  EXPECT_TRUE(fs::exists(out / "ks_train_overlap.txt"));

  // The Kinetics-Sounds loader reads it (bad clips skipped in training).
  auto splits = load_data(Config::load("", {"data.name=kinetics_sounds", "data.root=" + out.string(), "data.val_fraction=0",
                                            "data.kinetics_sounds.image_size=32", "output.progress=false",
                                            "data.on_bad_sample=skip"}),
                          false);
  EXPECT_EQ(splits.train.size(), 2);
  EXPECT_EQ(splits.test.size(), 1);

  // A rerun skips the finished clips and tries the failed ones again.
  const auto again = prepare_videos(o);
  EXPECT_EQ(again.already, 3);
  EXPECT_EQ(again.prepared, 0);
  EXPECT_EQ(again.failed, 8);
  // A deleted output makes its clip run again.
  fs::remove(out / "train_spec/goodclip002_000010_000020.npy");
  const auto third = prepare_videos(o);
  EXPECT_EQ(third.already, 2);
  EXPECT_EQ(third.prepared, 1);
  EXPECT_TRUE(fs::exists(out / "train_spec/goodclip002_000010_000020.npy"));
}

TEST(PrepareVideos, UnusableOptionsAreOneLineErrors) {
  const auto dir = test::temp_dir("prepare_bad_options");
  fs::create_directories(dir / "videos");
  PrepareOptions o;
  o.dataset = "kinetics_sounds";
  o.videos_dir = (dir / "videos").string();
  o.out_dir = (dir / "out").string();
  EXPECT_NE(test::error_of([&] { prepare_videos(o); }).find("ks_train_overlap.txt not found"), std::string::npos);
  auto bad = o;
  bad.dataset = "imagenet";
  EXPECT_NE(test::error_of([&] { prepare_videos(bad); }).find("known: kinetics_sounds"), std::string::npos);
  bad = o;
  bad.videos_dir = (dir / "nowhere").string();
  EXPECT_NE(test::error_of([&] { prepare_videos(bad); }).find("no such folder"), std::string::npos);
  std::ofstream(dir / "videos" / "ks_train_overlap.txt") << "aaaaaaaaaaa_000000_000010 1\n";
  std::ofstream(dir / "videos" / "ks_test_overlap.txt") << "bbbbbbbbbbb 1\n";
  EXPECT_NE(test::error_of([&] { prepare_videos(o); }).find("none of the 2 clips"), std::string::npos);
  bad = o;
  bad.index_files = {(dir / "videos" / "labels.txt").string()};
  EXPECT_NE(test::error_of([&] { prepare_videos(bad); }).find("not an index file"), std::string::npos);
  bad = o;
  bad.workers = 0;
  EXPECT_NE(test::error_of([&] { prepare_videos(bad); }).find("--workers"), std::string::npos);
  bad = o;
  bad.out_dir = o.videos_dir;
  EXPECT_NE(test::error_of([&] { prepare_videos(bad); }).find("must differ"), std::string::npos);
}

}  // namespace
}  // namespace crmt
