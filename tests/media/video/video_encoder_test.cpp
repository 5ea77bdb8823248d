#include "crmt/media/video/video_encoder.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include <gtest/gtest.h>

#include "crmt/media/io/wav.h"
#include "data/video_probe.h"
#include "test_util.h"

namespace crmt {
namespace {
namespace fs = std::filesystem;

// Smooth gradients (which survive compression) and a bright square that moves 3 pixels a frame, so
// that every frame differs from the others.
Image test_frame(int width, int height, int64_t i) {
  Image im(height, width, 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      uint8_t* p = im.row(y) + 3 * x;
      p[0] = static_cast<uint8_t>(40 + 160 * x / width);
      p[1] = static_cast<uint8_t>(40 + 160 * y / height);
      p[2] = 90;
    }
  const int side = height / 3, x0 = static_cast<int>(3 * i % (width - side)), y0 = height / 4;
  for (int y = y0; y < y0 + side; ++y)
    for (int x = x0; x < x0 + side; ++x) im.row(y)[3 * x] = 240, im.row(y)[3 * x + 1] = 230, im.row(y)[3 * x + 2] = 30;
  return im;
}

std::vector<float> sine(double seconds, int rate, double hz = 440) {
  std::vector<float> x(static_cast<size_t>(std::lround(seconds * rate)));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(0.5 * std::sin(2 * M_PI * hz * i / rate));
  return x;
}

// Writes `frames` test frames with `options`, checks the decoded frame `check` against what was
// encoded (and against another frame, so that a wrong frame cannot pass), returns the probe.
nlohmann::json encode_and_check(const fs::path& file, int width, int height, int64_t frames,
                                const std::vector<float>& audio, const VideoEncodeOptions& options, int check) {
  write_video(file.string(), frames, [&](int64_t i) { return test_frame(width, height, i); }, audio, 16000, options);
  EXPECT_TRUE(fs::is_regular_file(file)) << file;
  for (const auto& entry : fs::directory_iterator(file.parent_path()))  // no temporary file left behind
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
  auto decoded = test::decode_frame(file, check);
  EXPECT_LT(test::mean_abs_diff(decoded, test_frame(width, height, check)), 4.0) << file;
  EXPECT_GT(test::mean_abs_diff(decoded, test_frame(width, height, check + 5)), 6.0) << file;
  return test::probe_video(file);
}

TEST(VideoEncoder, Mp4HasH264AndAacAt44100StereoAndDecodesBack) {
  auto dir = test::temp_dir("mp4");
  VideoEncodeOptions o;  // libx264, 25 fps
  o.audio_codec = "aac";
  auto probe = encode_and_check(dir / "clip.mp4", 96, 64, 30, sine(1.2, 16000), o, 12);
  auto v = test::stream_of(probe, "video"), a = test::stream_of(probe, "audio");
  ASSERT_TRUE(v.is_object() && a.is_object()) << probe.dump();
  EXPECT_EQ(v["codec_name"], "h264");
  EXPECT_EQ(v["width"], 96);
  EXPECT_EQ(v["height"], 64);
  EXPECT_EQ(v["avg_frame_rate"], "25/1");
  EXPECT_EQ(test::read_frames(v), 30);
  EXPECT_EQ(a["codec_name"], "aac");
  EXPECT_EQ(a["sample_rate"], "44100");
  EXPECT_EQ(a["channels"], 2);
  EXPECT_NEAR(test::duration_of(probe), 1.2, 0.03);
  EXPECT_NE(probe["format"]["format_name"].get<std::string>().find("mp4"), std::string::npos);

  // The sound comes back: decoded to 16 kHz mono, it is the sine that went in (AAC is lossy; the
  // mp4 edit list removes the encoder's priming, so that the two line up).
  auto wav_path = dir / "back.wav";
  test::shell_output("ffmpeg -v error -y -i " + test::quoted(dir / "clip.mp4") + " -ac 1 -ar 16000 -c:a pcm_s16le " +
                     test::quoted(wav_path) + " 2>&1");
  auto wav = read_wav(wav_path.string());
  auto ref = sine(1.2, 16000);
  ASSERT_NEAR(static_cast<double>(wav.frames()), static_cast<double>(ref.size()), 160);
  double dot = 0, a2 = 0, b2 = 0;
  for (size_t i = 800; i + 800 < ref.size(); ++i) {  // away from the edges of the resamplers
    dot += wav.samples[i] * ref[i], a2 += wav.samples[i] * wav.samples[i], b2 += ref[i] * ref[i];
  }
  EXPECT_GT(dot / std::sqrt(a2 * b2), 0.99);
  EXPECT_NEAR(std::sqrt(a2 / b2), 1.0, 0.05);  // each channel at full level, not mono's -3 dB share
}

TEST(VideoEncoder, AviHasMpeg4TaggedXvidAndNoAudio) {
  auto dir = test::temp_dir("avi");
  VideoEncodeOptions o;
  o.video_codec = "mpeg4";
  o.codec_tag = "XVID";
  o.fps = 5;
  auto probe = encode_and_check(dir / "v_Archery_g01_c01.avi", 80, 48, 20, {}, o, 7);
  auto v = test::stream_of(probe, "video");
  ASSERT_TRUE(v.is_object()) << probe.dump();
  EXPECT_EQ(v["codec_name"], "mpeg4");
  EXPECT_EQ(v["codec_tag_string"], "XVID");
  EXPECT_EQ(v["width"], 80);
  EXPECT_EQ(v["height"], 48);
  EXPECT_EQ(v["nb_frames"], "20");
  EXPECT_EQ(test::read_frames(v), 20);
  EXPECT_TRUE(test::stream_of(probe, "audio").is_null());
  EXPECT_NEAR(test::duration_of(probe), 4.0, 0.01);
  EXPECT_EQ(probe["format"]["format_name"], "avi");
}

TEST(VideoEncoder, FlvHasSorensonH263AndAac) {
  auto dir = test::temp_dir("flv");
  VideoEncodeOptions o;
  o.video_codec = "flv";
  o.fps = 30;
  o.audio_codec = "aac";
  auto probe = encode_and_check(dir / "1001_DFA_ANG_XX.flv", 64, 48, 45, sine(1.5, 16000), o, 20);
  auto v = test::stream_of(probe, "video"), a = test::stream_of(probe, "audio");
  ASSERT_TRUE(v.is_object() && a.is_object()) << probe.dump();
  EXPECT_EQ(v["codec_name"], "flv1");
  EXPECT_EQ(v["width"], 64);
  EXPECT_EQ(v["height"], 48);
  EXPECT_EQ(test::read_frames(v), 45);
  EXPECT_EQ(a["codec_name"], "aac");
  EXPECT_EQ(a["sample_rate"], "44100");
  EXPECT_NEAR(test::duration_of(probe), 1.5, 0.05);
  EXPECT_EQ(probe["format"]["format_name"], "flv");
}

TEST(VideoEncoder, FailuresNameTheFileAndLeaveNothing) {
  auto dir = test::temp_dir("errors");
  auto frames = [](int64_t i) { return test_frame(32, 32, i); };
  VideoEncodeOptions o;

  // A parent folder that is a file: unwritable even for root.
  std::ofstream(dir / "file") << "x";
  auto bad_dir = (dir / "file" / "clip.mp4").string();
  auto e = test::error_of([&] { write_video(bad_dir, 3, frames, {}, 0, o); });
  EXPECT_NE(e.find(bad_dir), std::string::npos) << e;
  EXPECT_NE(e.find("Not a directory"), std::string::npos) << e;  // av_strerror's text

  auto missing = (dir / "nowhere" / "clip.mp4").string();
  e = test::error_of([&] { write_video(missing, 3, frames, {}, 0, o); });
  EXPECT_NE(e.find(missing), std::string::npos) << e;

  // Frames that change size: the partial file is removed.
  auto sizes = (dir / "sizes.mp4").string();
  e = test::error_of([&] {
    write_video(sizes, 5, [](int64_t i) { return test_frame(i < 3 ? 32 : 48, 32, i); }, {}, 0, o);
  });
  EXPECT_NE(e.find(sizes), std::string::npos) << e;
  EXPECT_NE(e.find("frame 3"), std::string::npos) << e;

  auto odd = (dir / "odd.mp4").string();
  e = test::error_of([&] { write_video(odd, 2, [](int64_t i) { return test_frame(33, 32, i); }, {}, 0, o); });
  EXPECT_NE(e.find("even"), std::string::npos) << e;

  auto no_codec = (dir / "sound.mp4").string();
  e = test::error_of([&] { write_video(no_codec, 2, frames, sine(0.1, 16000), 16000, o); });
  EXPECT_NE(e.find("audio codec"), std::string::npos) << e;

  VideoEncodeOptions unknown = o;
  unknown.video_codec = "no_such_codec";
  e = test::error_of([&] { write_video((dir / "u.mp4").string(), 2, frames, {}, 0, unknown); });
  EXPECT_NE(e.find("no_such_codec"), std::string::npos) << e;

  e = test::error_of([&] { write_video((dir / "clip.nosuchext").string(), 2, frames, {}, 0, o); });
  EXPECT_NE(e.find("clip.nosuchext"), std::string::npos) << e;

  // Only the file that stood in the way is left.
  int entries = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    ++entries;
    EXPECT_EQ(entry.path().filename().string(), "file");
  }
  EXPECT_EQ(entries, 1);
}

// Leaves the heap's free blocks full of bytes no encoder wrote, so that an encoder reading memory
// it never wrote gives other bytes the next time (libx264 0.164's AVX-512 routines do).
void dirty_the_heap(unsigned char fill) {
  std::vector<std::unique_ptr<unsigned char[]>> blocks;
  for (size_t size = 64; size <= (size_t{1} << 20); size *= 2)
    for (int i = 0; i < 6; ++i) {
      blocks.emplace_back(new unsigned char[size]);
      std::memset(blocks.back().get(), fill ^ i, size);
      asm volatile("" : : "r"(blocks.back().get()) : "memory");  // the stores must happen
    }
}

// Frames from memory or from a function, the same bytes whatever the heap held before: the
// fixtures are deterministic.
TEST(VideoEncoder, SameInputGivesTheSameBytes) {
  auto dir = test::temp_dir("same");
  VideoEncodeOptions o;
  o.audio_codec = "aac";
  std::vector<Image> frames;
  for (int i = 0; i < 12; ++i) frames.push_back(test_frame(48, 32, i));
  write_video((dir / "a.mp4").string(), frames, sine(0.5, 16000), 16000, o);
  auto a = test::read_file(dir / "a.mp4");
  EXPECT_GT(a.size(), 1000u);
  for (unsigned char fill : {0x00, 0xa5, 0x5a, 0xff}) {
    dirty_the_heap(fill);
    write_video((dir / "b.mp4").string(), 12, [&](int64_t i) { return frames[i]; }, sine(0.5, 16000), 16000, o);
    EXPECT_TRUE(a == test::read_file(dir / "b.mp4")) << "after filling the heap with " << int(fill);
  }
  frames[5] = test_frame(48, 32, 0);
  write_video((dir / "c.mp4").string(), frames, sine(0.5, 16000), 16000, o);
  EXPECT_FALSE(a == test::read_file(dir / "c.mp4"));
}

}  // namespace
}  // namespace crmt
