#pragma once
// Reading video files back with the ffprobe / ffmpeg command-line tools, an implementation
// independent of the encoder under test (tests of video_encoder and of the fixtures' videos).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crmt/media/image/image.h"
#include "test_util.h"

namespace crmt::test {

// stdout of a shell command ("" and a test failure when it exits non-zero).
inline std::string shell_output(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) {
    ADD_FAILURE() << "cannot run " << command;
    return out;
  }
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  int status = ::pclose(pipe);
  EXPECT_EQ(status, 0) << command << "\n" << out;
  return status == 0 ? out : "";
}

inline std::string quoted(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

// ffprobe's view of a file: {"streams": [{codec_type, codec_name, codec_tag_string, width, height,
// sample_rate, channels, nb_frames, nb_read_frames, avg_frame_rate}...], "format": {format_name,
// duration}}. Frames are counted by decoding (nb_read_frames): FLV stores no count.
inline nlohmann::json probe_video(const std::filesystem::path& path) {
  auto out = shell_output(
      "ffprobe -v error -count_frames -show_entries stream=codec_type,codec_name,codec_tag_string,width,height,"
      "sample_rate,channels,nb_frames,nb_read_frames,avg_frame_rate:format=format_name,duration -of json " +
      quoted(path) + " 2>&1");
  if (out.empty()) return nlohmann::json::object();
  return nlohmann::json::parse(out);
}

// The first stream of `type` ("video" / "audio"); null when there is none.
inline nlohmann::json stream_of(const nlohmann::json& probe, const std::string& type) {
  for (const auto& s : probe.value("streams", nlohmann::json::array()))
    if (s.value("codec_type", "") == type) return s;
  return nullptr;
}

// Decoded frames (from nb_read_frames, a string in ffprobe's json).
inline int64_t read_frames(const nlohmann::json& stream) {
  return std::stoll(stream.value("nb_read_frames", std::string("-1")));
}

inline double duration_of(const nlohmann::json& probe) {
  return std::stod(probe["format"].value("duration", std::string("-1")));
}

// Frame `index` (0-based, presentation order) decoded to RGB by the ffmpeg tool, through a PPM file.
// Exact rounding and full chroma interpolation: swscale's defaults darken every channel by about 1.
inline Image decode_frame(const std::filesystem::path& video, int index) {
  auto ppm = temp_dir("decode_frame") / "frame.ppm";
  shell_output("ffmpeg -v error -y -i " + quoted(video) + " -vf 'select=eq(n\\," + std::to_string(index) +
               "),scale=flags=accurate_rnd+full_chroma_int,format=rgb24' -frames:v 1 " + quoted(ppm) + " 2>&1");
  std::ifstream in(ppm, std::ios::binary);
  std::string magic;
  int w = 0, h = 0, maxval = 0;
  in >> magic >> w >> h >> maxval;
  in.get();  // the one whitespace before the pixels
  if (magic != "P6" || maxval != 255 || w <= 0 || h <= 0) {
    ADD_FAILURE() << "no frame " << index << " decoded from " << video;
    return Image();
  }
  Image image(h, w, 3);
  in.read(reinterpret_cast<char*>(image.pixels.data()), static_cast<std::streamsize>(image.pixels.size()));
  EXPECT_TRUE(in) << ppm;
  return image;
}

// Mean absolute difference of two images of the same shape (255 when the shapes differ).
inline double mean_abs_diff(const Image& a, const Image& b) {
  if (a.width != b.width || a.height != b.height || a.channels != b.channels || a.empty()) return 255;
  double sum = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) sum += std::abs(int(a.pixels[i]) - int(b.pixels[i]));
  return sum / static_cast<double>(a.pixels.size());
}

}  // namespace crmt::test
