// make_fixture with videos: the raw downloads of each dataset beside its prepared layout.
#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crmt/data/fixtures/fixture_common.h"
#include "crmt/data/fixtures/make_fixture.h"
#include "crmt/media/io/jpeg.h"
#include "data/video_probe.h"
#include "test_util.h"

namespace crmt {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

FixtureSummary make_with_videos(const std::string& dataset, const fs::path& dir, bool videos) {
  FixtureOptions o;
  o.dataset = dataset;
  o.out_dir = dir.string();
  o.clips = 2;
  o.seed = 5;
  o.videos = videos;
  return make_fixture(o);
}

using test::tree_of;

struct Expected {
  std::string dataset;
  std::vector<std::string> index_files;  // copied into videos/ unchanged
  std::string path_pattern;              // of a clip's video, relative to the fixture folder
  std::string video_codec, tag, format, audio_codec;
  int width, height, fps;
  double seconds;
  // The prepared frame that shows the same picture as video frame fps (1 s in), relative path
  std::string (*frame_at_1s)(const json& clip);
};
// Shown by name in test listings.
void PrintTo(const Expected& e, std::ostream* os) { *os << e.dataset; }

const std::vector<Expected>& expectations() {
  static const std::vector<Expected> v{
      {"kinetics_sounds", {"ks_train_overlap.txt", "ks_test_overlap.txt"},
       R"(videos/(blowing_nose|blowing_out_candles)/[A-Za-z0-9_-]{11}_\d{6}_\d{6}\.mp4)", "h264", "avc1", "mp4", "aac",
       340, 256, 25, 10,
       [](const json& c) {
         return (c["split"] == "train" ? "train-frames-1fps/train/" : "val-frames-1fps/test/") +
                c["name"].get<std::string>() + "/frame_00002.jpg";
       }},
      {"vggsound", {"vggsound.csv"}, R"(videos/video/[A-Za-z0-9_-]{11}_\d{6}\.mp4)", "h264", "avc1", "mp4", "aac", 320,
       240, 25, 10,
       [](const json& c) {
         return (c["split"] == "train" ? "train-videos/train-set-img/Image-01-FPS/"
                                       : "test-videos/test-set-img/Image-01-FPS/") +
                c["name"].get<std::string>() + ".mp4/00025.jpg";
       }},
      {"ucf101", {"ucfTrainTestlist/classInd.txt", "ucfTrainTestlist/trainlist01.txt", "ucfTrainTestlist/testlist01.txt"},
       R"(videos/UCF-101/(ApplyEyeMakeup|ApplyLipstick)/v_\1_g\d\d_c\d\d\.avi)", "mpeg4", "XVID", "avi", "", 320, 240,
       5, 4, [](const json& c) { return "rgb/" + c["name"].get<std::string>() + "/frame_00002.jpg"; }},
      {"cremad", {"train.csv", "test.csv"}, R"(videos/VideoFlash/10\d\d_[A-Z]{3}_(NEU|HAP)_(XX|LO|MD|HI)\.flv)", "flv1",
       "", "flv", "aac", 240, 180, 30, 2.5,
       [](const json& c) { return "Image-01-FPS/" + c["name"].get<std::string>() + "/00030.jpg"; }},
  };
  return v;
}

class FixtureVideos : public ::testing::TestWithParam<Expected> {};

TEST_P(FixtureVideos, WritesTheRawDownloadsInTheDatasetsLayout) {
  const auto& e = GetParam();
  auto root = test::temp_dir("fixture_videos_" + e.dataset);
  make_with_videos(e.dataset, root / "plain", false);
  make_with_videos(e.dataset, root / "full", true);
  const auto plain = tree_of(root / "plain"), with = tree_of(root / "full");

  // Without videos nothing extra; with them, the prepared layout is unchanged (fixture.json aside).
  EXPECT_FALSE(fs::exists(root / "plain" / "videos"));
  // Parsed into a local: a range-for over a member of a temporary reads freed memory (AddressSanitizer).
  const auto plain_manifest = json::parse(plain.at("fixture.json"));
  for (const auto& clip : plain_manifest["clips"]) EXPECT_FALSE(clip.contains("video"));
  std::set<std::string> extra;
  for (const auto& [path, bytes] : with) {
    if (path == "fixture.json") continue;
    if (path.rfind("videos/", 0) == 0) {
      extra.insert(path);
      continue;
    }
    ASSERT_TRUE(plain.count(path)) << path;
    EXPECT_TRUE(plain.at(path) == bytes) << path;
  }
  EXPECT_EQ(with.size() - extra.size(), plain.size());
  for (const auto& index : e.index_files) {
    ASSERT_TRUE(with.count("videos/" + index)) << index;
    EXPECT_EQ(with.at("videos/" + index), with.at(index)) << index;
    extra.erase("videos/" + index);
  }

  auto manifest = json::parse(with.at("fixture.json"));
  ASSERT_EQ(manifest["clips"].size(), 4u);
  const std::regex pattern(e.path_pattern);
  for (const auto& clip : manifest["clips"]) {
    const std::string name = clip["name"], video = clip.value("video", "");
    SCOPED_TRACE(video);
    EXPECT_TRUE(std::regex_match(video, pattern)) << video;
    ASSERT_EQ(extra.erase(video), 1u) << "not written: " << video;
    const std::string stem = fs::path(video).stem().string();
    if (e.dataset == "kinetics_sounds") {  // train: the clip's name; test: its id and a 10 s window
      std::smatch m;
      ASSERT_TRUE(std::regex_match(stem, m, std::regex(R"((.{11})_(\d{6})_(\d{6}))"))) << stem;
      EXPECT_EQ(std::stoi(m[3]) - std::stoi(m[2]), 10) << stem;
      EXPECT_EQ(clip["split"] == "train" ? stem : m[1].str(), name);
    }
    if (e.dataset == "vggsound") {  // "<id>_<start>" -> "<id>_<start:06d>"
      auto cut = name.rfind('_');
      EXPECT_EQ(stem, fmt::format("{}_{:06d}", name.substr(0, cut), std::stoi(name.substr(cut + 1))));
    }
    if (e.dataset == "ucf101" || e.dataset == "cremad") {
      EXPECT_EQ(stem, name);
    }
    if (e.dataset == "cremad") {
      ASSERT_TRUE(with.count("videos/AudioWAV/" + name + ".wav"));
      EXPECT_EQ(with.at("videos/AudioWAV/" + name + ".wav"), with.at("AudioWAV/" + name + ".wav"));
      extra.erase("videos/AudioWAV/" + name + ".wav");
    }

    auto probe = test::probe_video(root / "full" / video);
    auto v = test::stream_of(probe, "video"), a = test::stream_of(probe, "audio");
    ASSERT_TRUE(v.is_object()) << probe.dump();
    EXPECT_EQ(v["codec_name"], e.video_codec);
    if (!e.tag.empty()) {
      EXPECT_EQ(v["codec_tag_string"], e.tag);
    }
    EXPECT_EQ(v["width"], e.width);
    EXPECT_EQ(v["height"], e.height);
    EXPECT_EQ(test::read_frames(v), std::lround(e.seconds * e.fps));
    EXPECT_NEAR(test::duration_of(probe), e.seconds, 0.05);
    EXPECT_NE(probe["format"]["format_name"].get<std::string>().find(e.format), std::string::npos);
    if (e.audio_codec.empty()) {
      EXPECT_TRUE(a.is_null()) << probe.dump();
    } else {
      ASSERT_TRUE(a.is_object()) << probe.dump();
      EXPECT_EQ(a["codec_name"], e.audio_codec);
      EXPECT_EQ(a["sample_rate"], "44100");
      EXPECT_EQ(a["channels"], 2);
    }
    // One second in, the video shows the picture of the prepared frame 1 (both compressed, hence the
    // tolerance); its first frame, where the patch is dx pixels away, differs more.
    auto jpeg = read_jpeg((root / "full" / e.frame_at_1s(clip)).string(), JpegColor::Rgb);
    const double same = test::mean_abs_diff(test::decode_frame(root / "full" / video, e.fps), jpeg);
    const double moved = test::mean_abs_diff(test::decode_frame(root / "full" / video, 0), jpeg);
    EXPECT_LT(same, 2.0);
    EXPECT_GT(moved, 1.5 * same) << same;
  }
  EXPECT_TRUE(extra.empty()) << ::testing::PrintToString(extra);
}

INSTANTIATE_TEST_SUITE_P(Datasets, FixtureVideos, ::testing::ValuesIn(expectations()),
                         [](const auto& info) { return info.param.dataset; });

// Videos run past the last planned frame (Kinetics: to 9.96 s of a 10-frame plan): the patch stops
// at the border there, and frame_at agrees with frame at the planned integer times.
TEST(FixtureVideosFrameAt, MatchesFramesAndKeepsThePatchInside) {
  FixtureOptions o;
  o.dataset = "kinetics_sounds";
  o.clips = 2;
  fixture::FixtureWriter w(o, fixture::kinetics_sounds_shape());
  const auto& shape = w.shape();
  for (const auto& c : w.clips())
    for (int t = 0; t < shape.frames; ++t) EXPECT_EQ(w.frame_at(c, t).pixels, w.frame(c, t).pixels);
  // A clip that leaves at the right edge: from some time on, the frames stop changing.
  fixture::Clip c = w.clips()[0];
  c.dx = 4, c.dy = 0, c.x0 = shape.width - c.patch - 2;
  EXPECT_NE(w.frame_at(c, 0).pixels, w.frame_at(c, 0.5).pixels);
  const auto edge = w.frame_at(c, 0.5);  // x = x0 + 2: at the border
  for (double t : {1.0, 9.96, 100.0}) EXPECT_EQ(w.frame_at(c, t).pixels, edge.pixels) << t;
  c.dx = -4, c.x0 = 1;  // and the left one
  const auto left = w.frame_at(c, 0.25);
  EXPECT_NE(w.frame_at(c, 0).pixels, left.pixels);
  EXPECT_EQ(w.frame_at(c, 9.96).pixels, left.pixels);
}

TEST(FixtureVideosCli, VideosFlagWritesThem) {
  auto root = test::temp_dir("fixture_videos_cli");
  auto r = test::run_cli("data make-fixture ucf101 --clips 2 --videos --out " + (root / "u").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(root / "u" / "videos" / "ucfTrainTestlist" / "classInd.txt"));
  EXPECT_TRUE(fs::is_directory(root / "u" / "videos" / "UCF-101" / "ApplyEyeMakeup"));
  auto manifest = json::parse(test::read_file(root / "u" / "fixture.json"));
  for (const auto& clip : manifest["clips"]) EXPECT_TRUE(fs::is_regular_file(root / "u" / clip["video"].get<std::string>()));
}

}  // namespace
}  // namespace crmt
