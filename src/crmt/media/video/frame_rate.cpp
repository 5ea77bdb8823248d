#include "crmt/media/video/frame_rate.h"

#include <algorithm>
#include <cmath>

namespace crmt {
namespace {

// ffmpeg's float_pts: the time in output periods, rounded to 1/65536 (av_rescale_q rounds half
// away from zero) and moved off exact midpoints by 2^-17 (FFSIGN(0) is -1).
double output_time(double time, double rate) {
  const double scaled = std::round(time * rate * 65536.0) / 65536.0;
  return scaled + (scaled > 0 ? 1.0 : -1.0) / 131072.0;
}

int median3(int a, int b, int c) { return std::max(std::min(a, b), std::min(std::max(a, b), c)); }

}  // namespace

FfmpegRateSampler::FfmpegRateSampler(double output_rate, double input_rate, bool lone_video_stream)
    : output_rate_(output_rate), lone_video_stream_(lone_video_stream) {
  // One input frame lasts R / input_rate output periods, capped at one; a frame that lasts a
  // whole period or more (in whole periods) is taken at that length, as ffmpeg's packet duration.
  duration_ = input_rate > 0 ? std::min(output_rate / input_rate, 1.0) : 0.0;
  if (input_rate > 0) {
    const long whole = std::lrint(static_cast<float>(output_rate / input_rate));
    if (whole > 0) duration_ = static_cast<double>(whole);
  }
}

FfmpegRateSampler::Pick FfmpegRateSampler::push(double time) {
  double ipts = output_time(time, output_rate_);
  double duration = duration_;
  double delta0 = ipts - static_cast<double>(sync_opts_);
  double delta = delta0 + duration;
  int nb0 = 0, nb = 1;
  if (delta0 < 0 && delta > 0) {  // "clipping frame in rate conversion"
    ipts = static_cast<double>(sync_opts_);
    duration += delta0;
    delta0 = 0;
  }
  if (lone_video_stream_ && sync_opts_ == 0 && delta0 >= 0.5) {  // no initial duplicates
    delta = duration;
    delta0 = 0;
    sync_opts_ = std::llrint(ipts);
  }
  if (delta < -1.1) {
    nb = 0;
  } else if (delta > 1.1) {
    nb = static_cast<int>(std::llrint(static_cast<float>(delta)));
    if (delta0 > 1.1) nb0 = static_cast<int>(std::llrint(static_cast<float>(delta0 - 0.6)));
  }
  nb0 = std::min(nb0, nb);
  last_nb0_ = {nb0, last_nb0_[0], last_nb0_[1]};
  Pick pick;
  pick.previous = has_previous_ ? nb0 : 0;
  pick.current = nb - pick.previous;
  sync_opts_ += nb;
  has_previous_ = true;
  return pick;
}

int FfmpegRateSampler::flush() const {
  return has_previous_ ? median3(last_nb0_[0], last_nb0_[1], last_nb0_[2]) : 0;
}

bool ogm_keeps_frame(int64_t index, double average_rate) {
  const auto every = std::max<int64_t>(1, static_cast<int64_t>(average_rate));
  return index % every == 0;
}

}  // namespace crmt
