#pragma once
#include <array>
#include <cstdint>

namespace crmt {

// Which decoded frames a frame-rate conversion keeps, as the extraction scripts of the public
// code do it.

// ffmpeg's `-r R` in front of an image-sequence output (`ffmpeg -i clip.mp4 -r 1 %06d.jpg`, CRMT's
// extract_video_frames.py), as ffmpeg 5.1's constant-frame-rate sync (fftools do_video_out)
// decides it. Output frame n (0-based) stands for time n / R; each decoded frame at time t is
// written 0, 1 or more times depending on how far t * R is from the next output slot:
//   delta = t * R - written + min(R / input_rate, 1);  delta < -1.1: dropped;  delta > 1.1:
//   written round(delta) times;  else written once.
// So the first two outputs are the first two decoded frames (a 10 s, 25 fps clip gives 12 JPEGs:
// frames 0, 1, 22, 47, 72, ..., 247): with R = 1, output n >= 2 is the first frame at or after
// n - 1.1 - 1/input_rate seconds.
// t is rounded to 1/65536 of an output period and nudged by 2^-17 as ffmpeg does. Where a gap
// between frames spans several slots, the earlier frame fills some of them (nb0 in ffmpeg); at the
// end the last frame is repeated the median of the last three such counts.
class FfmpegRateSampler {
 public:
  // `lone_video_stream`: the file has no other stream (ffmpeg then does not duplicate a late first
  // frame to fill the start).
  FfmpegRateSampler(double output_rate, double input_rate, bool lone_video_stream);

  struct Pick {
    int previous = 0;  // copies of the previous decoded frame to write first
    int current = 0;   // then copies of this one
  };
  // For the next decoded frame, at `time` seconds.
  Pick push(double time);
  // At the end of the stream: copies of the last decoded frame still to write.
  int flush() const;

  int64_t written() const { return sync_opts_; }

 private:
  double output_rate_, duration_;
  bool lone_video_stream_;
  int64_t sync_opts_ = 0;  // output frames written so far
  bool has_previous_ = false;
  std::array<int, 3> last_nb0_{0, 0, 0};
};

// OGM-GE's video2frame (OpenCV): frame `index` (0-based, decoding order) is kept when
// index % int(fps) == 0, fps being the stream's average rate (OpenCV's CAP_PROP_FPS): the first
// frame of every second. Files are named by that absolute index ("%05d.jpg").
bool ogm_keeps_frame(int64_t index, double average_rate);

}  // namespace crmt
