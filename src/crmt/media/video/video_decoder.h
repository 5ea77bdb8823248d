#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "crmt/core/error.h"
#include "crmt/media/image/image.h"

namespace crmt {

// A video that cannot be used: missing, unreadable, corrupt, truncated, no such stream, unsupported
// codec. The message names the file and carries FFmpeg's own words.
class DecodeError : public Error {
 public:
  using Error::Error;
};

// One decoded picture, converted to 8-bit RGB only when asked (most frames of a 25 fps clip are
// never kept at 1 fps). The conversion uses the BT.601 matrix, as Pillow does on the JPEGs that
// ffmpeg's command line writes, and OpenCV's FFmpeg backend on the frames it reads.
class DecodedFrame {
 public:
  virtual ~DecodedFrame() = default;
  virtual Image rgb() const = 0;
  // A reference that stays valid after the visit (shares the decoded picture, copies nothing).
  virtual std::shared_ptr<const DecodedFrame> keep() const = 0;
};

// What the container says about its video stream.
struct VideoInfo {
  int width = 0, height = 0;
  double frame_rate = 0;      // av_guess_frame_rate: what ffmpeg's -r conversion assumes
  double avg_frame_rate = 0;  // the stream's average rate: what OpenCV's CAP_PROP_FPS reports
  double duration = 0;        // seconds (0 when the container does not say)
  int streams = 0;            // all streams of the file (ffmpeg treats a lone video stream specially)
  std::string codec;
};

// Decodes a video file with FFmpeg's libraries (libavformat, libavcodec, libswscale,
// libswresample), in this process. Every failure is a DecodeError naming the file.
class VideoDecoder {
 public:
  explicit VideoDecoder(std::string path);
  ~VideoDecoder();
  VideoDecoder(const VideoDecoder&) = delete;
  VideoDecoder& operator=(const VideoDecoder&) = delete;

  bool has_video() const;
  bool has_audio() const;
  // The video stream's description; DecodeError when the file has none.
  const VideoInfo& video_info() const;

  // Decodes every video frame in presentation order and calls visit(index, time, frame) with the
  // 0-based index and the time in seconds as ffmpeg's command line sees it: the frame's best-effort
  // timestamp minus the file's start time (the earliest start over all streams). A packet the
  // demuxer cannot read or the decoder rejects (a truncated or corrupt file) is a DecodeError.
  using FrameVisitor = std::function<void(int64_t index, double time, const DecodedFrame& frame)>;
  void decode_video(const FrameVisitor& visit);

  // Decodes the audio stream, resampled with libswresample's defaults (as ffmpeg -ar R -ac C) to
  // `channels` interleaved 16-bit channels at `sample_rate`: exactly the samples `ffmpeg -i f -ar R
  // -ac C -acodec pcm_s16le f.wav` writes.
  std::vector<int16_t> decode_audio(int sample_rate, int channels);

  const std::string& path() const { return path_; }

 private:
  struct State;
  std::string path_;
  std::unique_ptr<State> state_;
};

// 16-bit samples as floats of full scale +-1 (x / 32768, as torchaudio.load and soundfile read them).
std::vector<float> pcm16_to_float(const std::vector<int16_t>& samples);

}  // namespace crmt
