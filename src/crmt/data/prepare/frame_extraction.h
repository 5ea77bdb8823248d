#pragma once
// One decoding pass over a clip's video that writes the frames each dataset's public extractor
// keeps: ffmpeg's `-r` rule (CRMT), OpenCV's first frame of every second (OGM-GE), and TV-L1 flow
// between all consecutive frames (CRMT's extract_rgb_of.py). Internal to src/crmt/data/prepare.
#include <string>

#include "crmt/data/prepare/recipe.h"

namespace crmt {
class VideoDecoder;
}

namespace crmt::prepare {

struct FramePlan {
  // ffmpeg -r <rate_fps> <rate_dir>/frame_%05d.jpg (1-based); off when rate_dir is empty.
  double rate_fps = 1;
  std::string rate_dir;
  // OGM-GE: <ogm_dir>/%05d.jpg named by the kept frame's 0-based index; off when empty.
  std::string ogm_dir;
  // TV-L1 flow of frames k-1 -> k, quantised to +-15: <flow_u_dir>/frame%06d.jpg (k = 1, 2, ...),
  // the same in flow_v_dir; off when empty.
  std::string flow_u_dir, flow_v_dir;
  int quality = 95;
};

struct FrameCounts {
  int rate_frames = 0, ogm_frames = 0, flows = 0;
};

// ClipError unless the video has a video stream (and an audio stream when `audio`).
void require_streams(const VideoDecoder& video, bool audio);

FrameCounts extract_frames(VideoDecoder& video, const FramePlan& plan, ClipOutputs& out);

}  // namespace crmt::prepare
