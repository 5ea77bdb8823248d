// The FFmpeg-library decoder against Debian's ffmpeg command line on the same files: the frames
// `-r R` keeps, their pixels, and the resampled audio.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>

#include "crmt/media/io/jpeg.h"
#include "crmt/media/io/wav.h"
#include "crmt/media/video/frame_rate.h"
#include "crmt/media/video/video_decoder.h"
#include "test_util.h"

namespace crmt {
namespace {

namespace fs = std::filesystem;

void sh(const std::string& command) {
  ASSERT_EQ(std::system((command + " >/dev/null 2>&1").c_str()), 0) << command;
}

// A lossless video whose frame k has luma 16 + k % 200 (gray, inside the limited range, so that the
// RGB conversion keeps it apart), optionally with a sine sound track.
fs::path numbered_video(const fs::path& dir, const std::string& name, const std::string& rate, double seconds,
                        bool audio) {
  const auto path = dir / name;
  std::string cmd = fmt::format(
      "ffmpeg -nostdin -y -f lavfi -i \"nullsrc=s=64x48:r={}:d={},geq=lum='16+mod(N,200)':cb=128:cr=128\" ", rate, seconds);
  if (audio) cmd += fmt::format("-f lavfi -i \"sine=frequency=440:sample_rate=44100:duration={}\" -c:a aac ", seconds);
  cmd += "-c:v libx264 -qp 0 -pix_fmt yuv420p " + path.string();
  sh(cmd);
  return path;
}

// The source frame numbers (mod 200) of the frames `ffmpeg -i video -r rate` writes.
std::vector<int> cli_frames(const fs::path& video, double rate, const fs::path& dir) {
  fs::create_directories(dir);
  sh(fmt::format("ffmpeg -nostdin -y -i {} -r {} -f image2 -c:v rawvideo -pix_fmt yuv420p {}/%06d.yuv", video.string(),
                 rate, dir.string()));
  std::vector<int> lumas;
  for (int k = 1;; ++k) {
    std::ifstream in(dir / fmt::format("{:06d}.yuv", k), std::ios::binary);
    if (!in) break;
    std::vector<unsigned char> y(64 * 48);
    in.read(reinterpret_cast<char*>(y.data()), static_cast<std::streamsize>(y.size()));
    double sum = 0;
    for (auto v : y) sum += v;
    lumas.push_back(static_cast<int>(std::lround(sum / y.size())) - 16);
  }
  return lumas;
}

// The same through VideoDecoder + FfmpegRateSampler.
std::vector<int> our_frames(const fs::path& video, double rate) {
  VideoDecoder decoder(video.string());
  const auto& info = decoder.video_info();
  FfmpegRateSampler sampler(rate, info.frame_rate, info.streams == 1);
  std::vector<int> lumas;
  int previous = -1;
  auto luma_of = [](const Image& rgb) {
    double sum = 0;
    for (size_t i = 0; i < rgb.pixels.size(); i += 3) sum += rgb.pixels[i];
    // gray RGB from limited-range luma: R = (Y - 16) * 255 / 219
    return static_cast<int>(std::lround(sum / (rgb.pixels.size() / 3) * 219.0 / 255.0));
  };
  decoder.decode_video([&](int64_t, double time, const DecodedFrame& frame) {
    const auto pick = sampler.push(time);
    const int current = luma_of(frame.rgb());
    for (int i = 0; i < pick.previous; ++i) lumas.push_back(previous);
    for (int i = 0; i < pick.current; ++i) lumas.push_back(current);
    previous = current;
  });
  for (int i = 0; i < sampler.flush(); ++i) lumas.push_back(previous);
  return lumas;
}

TEST(FfmpegRateSampler, TenSecondsAt25FpsKeepFrames0And1ThenOnePerSecond) {
  // What ffmpeg 5.1 writes for `-r 1` (measured): 12 frames.
  FfmpegRateSampler sampler(1.0, 25.0, false);
  std::vector<int> kept;
  for (int k = 0; k < 250; ++k) {
    const auto pick = sampler.push(k / 25.0);
    EXPECT_EQ(pick.previous, 0);
    for (int i = 0; i < pick.current; ++i) kept.push_back(k);
  }
  EXPECT_EQ(sampler.flush(), 0);
  EXPECT_EQ(kept, (std::vector<int>{0, 1, 22, 47, 72, 97, 122, 147, 172, 197, 222, 247}));
}

TEST(FfmpegRateSampler, AGapRepeatsTheEarlierFrame) {
  // Frames at 0, 1, 2 s, then nothing until 6 s: the slots in between are filled.
  FfmpegRateSampler sampler(1.0, 1.0, false);
  int total = 0;
  for (double t : {0.0, 1.0, 2.0, 6.0}) {
    const auto pick = sampler.push(t);
    total += pick.previous + pick.current;
  }
  EXPECT_EQ(total, 7);  // slots 0..6
}

struct RateCase {
  std::string name, input_rate;
  double seconds;
  bool audio;
  double output_rate;
};
void PrintTo(const RateCase& c, std::ostream* os) { *os << c.name; }

class FrameChoiceMatchesFfmpeg : public ::testing::TestWithParam<RateCase> {};

TEST_P(FrameChoiceMatchesFfmpeg, SameSourceFrames) {
  const auto& c = GetParam();
  const auto dir = test::temp_dir("rate_" + c.name);
  const auto video = numbered_video(dir, c.name + ".mp4", c.input_rate, c.seconds, c.audio);
  const auto expected = cli_frames(video, c.output_rate, dir / "cli");
  ASSERT_GE(expected.size(), 3u);
  EXPECT_EQ(our_frames(video, c.output_rate), expected);
}

INSTANTIATE_TEST_SUITE_P(Videos, FrameChoiceMatchesFfmpeg,
                         ::testing::Values(RateCase{"k25_audio", "25", 10, true, 1},
                                           RateCase{"ntsc_video_only", "30000/1001", 7, false, 1},
                                           RateCase{"k25_at_2fps", "25", 4, true, 2},
                                           RateCase{"k5_at_2fps", "5", 4, false, 2}),
                         [](const auto& info) { return info.param.name; });

TEST(VideoDecoder, PixelsAgreeWithFfmpegJpegsWithinJpegNoise) {
  const auto dir = test::temp_dir("decoder_pixels");
  const auto video = dir / "t.mp4";
  sh("ffmpeg -nostdin -y -f lavfi -i testsrc2=s=320x240:r=25:d=3 -c:v libx264 -pix_fmt yuv420p " + video.string());
  fs::create_directories(dir / "cli");
  sh(fmt::format("ffmpeg -nostdin -y -i {} -r 1 {}/%06d.jpg", video.string(), (dir / "cli").string()));
  VideoDecoder decoder(video.string());
  FfmpegRateSampler sampler(1.0, decoder.video_info().frame_rate, true);
  std::vector<Image> ours;
  decoder.decode_video([&](int64_t, double time, const DecodedFrame& frame) {
    const auto pick = sampler.push(time);
    for (int i = 0; i < pick.current; ++i) ours.push_back(frame.rgb());
  });
  ASSERT_GE(ours.size(), 3u);
  for (size_t k = 0; k < ours.size(); ++k) {
    const auto cli = read_jpeg((dir / "cli" / fmt::format("{:06d}.jpg", k + 1)).string(), JpegColor::Rgb);
    ASSERT_EQ(cli.width, 320);
    ASSERT_EQ(cli.height, 240);
    double diff = 0;
    for (size_t i = 0; i < cli.pixels.size(); ++i) diff += std::abs(int(cli.pixels[i]) - int(ours[k].pixels[i]));
    EXPECT_LT(diff / cli.pixels.size(), 6.0) << "frame " << k + 1;
  }
}

TEST(VideoDecoder, AudioEqualsFfmpegResampledWav) {
  const auto dir = test::temp_dir("decoder_audio");
  const auto video = numbered_video(dir, "a.mp4", "25", 3, true);
  sh(fmt::format("ffmpeg -nostdin -y -i {} -ac 1 -ar 16000 -acodec pcm_s16le {}", video.string(), (dir / "a.wav").string()));
  const auto cli = read_wav((dir / "a.wav").string());
  VideoDecoder decoder(video.string());
  const auto ours = decoder.decode_audio(16000, 1);
  ASSERT_EQ(ours.size(), cli.samples.size());
  int worst = 0;
  for (size_t i = 0; i < ours.size(); ++i)
    worst = std::max(worst, std::abs(ours[i] - static_cast<int>(std::lround(cli.samples[i] * 32768.0f))));
  EXPECT_LE(worst, 1);
  // 440 Hz at 16 kHz: not silence
  double energy = 0;
  for (auto s : ours) energy += double(s) * s;
  EXPECT_GT(energy / ours.size(), 1e5);
}

TEST(VideoDecoder, BadFilesAreDecodeErrorsNamingTheFile) {
  const auto dir = test::temp_dir("decoder_bad");
  const auto empty = dir / "empty.mp4";
  std::ofstream(empty).close();
  auto message = test::error_of([&] { VideoDecoder d(empty.string()); });
  EXPECT_NE(message.find("empty.mp4"), std::string::npos) << message;
  const auto text = dir / "text.mp4";
  std::ofstream(text) << "not a video at all";
  message = test::error_of([&] { VideoDecoder d(text.string()); });
  EXPECT_NE(message.find("text.mp4"), std::string::npos) << message;
  EXPECT_NE(test::error_of([&] { VideoDecoder d((dir / "absent.mp4").string()); }).find("absent.mp4"), std::string::npos);
  // a video without audio asked for audio
  const auto silent = numbered_video(dir, "silent.mp4", "25", 1, false);
  VideoDecoder d(silent.string());
  EXPECT_FALSE(d.has_audio());
  EXPECT_THROW(d.decode_audio(16000, 1), DecodeError);
}

}  // namespace
}  // namespace crmt
