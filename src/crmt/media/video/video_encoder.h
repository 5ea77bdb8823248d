#pragma once
// Writing video files with FFmpeg's libraries: RGB frames plus an optional mono track, encoded and
// muxed in the container the file's extension names (.mp4, .avi, .flv, .mkv, ...). The dataset
// fixtures use it to write raw downloads as the public datasets ship them (make_fixture.h).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "crmt/media/image/image.h"

namespace crmt {

struct VideoEncodeOptions {
  std::string video_codec = "libx264";  // an FFmpeg encoder name: "libx264", "mpeg4", "flv", ...
  std::string codec_tag;                // a fourcc such as "XVID"; "" = the container's default
  int fps = 25;
  int crf = 20;                         // libx264's constant rate factor (lower = better)
  std::string preset = "veryfast";      // libx264's preset
  int qscale = 3;                       // other encoders: fixed quantiser, 2 (best) .. 31
  std::string audio_codec;              // "" = no audio track; else an encoder name such as "aac"
  int audio_rate = 44100;               // the track's sample rate (the input is resampled to it)
  int audio_channels = 2;               // the mono input is copied to every channel
  int64_t audio_bitrate = 128000;
  int threads = 1;                      // 1: the same bytes every run; 0: libav's choice
};

// Frame `index` (0-based) of a video: an RGB Image (3 channels), every frame the same size.
using VideoFrameSource = std::function<Image(int64_t index)>;

// Writes `frame_count` frames from `frame` (frame i shown at i / fps seconds) and, when
// options.audio_codec is set, the mono samples `audio` (+-1 full scale, at `audio_in_rate` Hz) into
// `path`. Frame sizes must be even (4:2:0 chroma); the parent folder must exist. The file appears
// complete or not at all: it is written under a temporary name and renamed at the end. Throws
// crmt::Error naming the file and libav's reason on any failure, and for audio without an audio
// codec (or the reverse).
void write_video(const std::string& path, int64_t frame_count, const VideoFrameSource& frame,
                 const std::vector<float>& audio, int audio_in_rate, const VideoEncodeOptions& options);

// The same from frames held in memory.
void write_video(const std::string& path, const std::vector<Image>& frames, const std::vector<float>& audio,
                 int audio_in_rate, const VideoEncodeOptions& options);

}  // namespace crmt
