#include "crmt/data/prepare/frame_extraction.h"

#include <fmt/format.h>

#include <optional>

#include "crmt/media/io/jpeg.h"
#include "crmt/media/video/frame_rate.h"
#include "crmt/media/video/optical_flow.h"
#include "crmt/media/video/video_decoder.h"

namespace crmt::prepare {

void require_streams(const VideoDecoder& video, bool audio) {
  if (!video.has_video()) throw ClipError(fmt::format("{}: no video stream", video.path()));
  if (audio && !video.has_audio()) throw ClipError(fmt::format("{}: no audio stream", video.path()));
}

FrameCounts extract_frames(VideoDecoder& video, const FramePlan& plan, ClipOutputs& out) {
  const VideoInfo& info = video.video_info();
  FrameCounts counts;
  FfmpegRateSampler sampler(plan.rate_fps > 0 ? plan.rate_fps : 1.0, info.frame_rate, info.streams == 1);
  std::shared_ptr<const DecodedFrame> previous;  // for ffmpeg's repeats of an earlier frame
  std::optional<TvL1Flow> tvl1;
  Image previous_gray;
  if (!plan.flow_u_dir.empty()) tvl1.emplace();

  auto write_rate_frame = [&](const Image& rgb) {
    ++counts.rate_frames;
    out.write(fmt::format("{}/frame_{:05d}.jpg", plan.rate_dir, counts.rate_frames), encode_jpeg(rgb, plan.quality));
  };

  video.decode_video([&](int64_t index, double time, const DecodedFrame& frame) {
    std::optional<Image> rgb;
    auto rgb_of_frame = [&]() -> const Image& {
      if (!rgb) rgb = frame.rgb();
      return *rgb;
    };
    if (!plan.rate_dir.empty()) {
      const auto pick = sampler.push(time);
      if (pick.previous > 0) {
        const Image earlier = previous->rgb();
        for (int i = 0; i < pick.previous; ++i) write_rate_frame(earlier);
      }
      for (int i = 0; i < pick.current; ++i) write_rate_frame(rgb_of_frame());
      previous = frame.keep();
    }
    if (!plan.ogm_dir.empty() && ogm_keeps_frame(index, info.avg_frame_rate)) {
      out.write(fmt::format("{}/{:05d}.jpg", plan.ogm_dir, index), encode_jpeg(rgb_of_frame(), plan.quality));
      ++counts.ogm_frames;
    }
    if (tvl1) {
      Image gray = rgb_to_gray(rgb_of_frame());
      if (!previous_gray.empty()) {
        const auto flow = (*tvl1)(previous_gray, gray);
        ++counts.flows;
        out.write(fmt::format("{}/frame{:06d}.jpg", plan.flow_u_dir, counts.flows), encode_jpeg(flow.u, plan.quality));
        out.write(fmt::format("{}/frame{:06d}.jpg", plan.flow_v_dir, counts.flows), encode_jpeg(flow.v, plan.quality));
      }
      previous_gray = std::move(gray);
    }
  });
  if (!plan.rate_dir.empty() && previous) {
    const int repeats = sampler.flush();
    if (repeats > 0) {
      const Image last = previous->rgb();
      for (int i = 0; i < repeats; ++i) write_rate_frame(last);
    }
  }
  return counts;
}

}  // namespace crmt::prepare
