// Kinetics-Sounds as the official CRMT code reads it (datasets.md 1.1-1.3): 1 fps frames by
// ffmpeg's -r rule as frame_%05d.jpg (the names its loader opens), and the Kaldi fbank of the 16 kHz
// mono audio as float32 [1024, 128] .npy.
#include <fmt/format.h>

#include "crmt/data/npy_tensor.h"
#include "crmt/data/prepare/frame_extraction.h"
#include "crmt/data/prepare/recipe.h"
#include "crmt/data/sources/clip_files.h"
#include "crmt/media/audio/spectrogram.h"
#include "crmt/media/video/video_decoder.h"

namespace crmt::prepare {
namespace {

constexpr int kKineticsSoundsRate = 16000;
constexpr int kKineticsSoundsMinFrames = 4;  // the official loader uses a clip when its folder holds more than 3

class KineticsSounds : public Recipe {
 public:
  explicit KineticsSounds(const PrepareOptions& o) : fps_(o.fps > 0 ? o.fps : 1.0), quality_(o.jpeg_quality) {}

  std::vector<IndexFile> index_files() const override {
    return {{"ks_train_overlap.txt", "ks_train_overlap.txt"}, {"ks_test_overlap.txt", "ks_test_overlap.txt"}};
  }

  std::vector<ClipTask> plan(const std::map<std::string, std::string>& index, const std::string& videos) const override {
    const FileFinder finder(videos, video_extensions());
    std::vector<ClipTask> tasks;
    for (const bool train : {true, false}) {
      const auto& path = index.at(train ? "ks_train_overlap.txt" : "ks_test_overlap.txt");
      for (const auto& line : read_index_lines(path)) {
        ClipTask t;
        t.name = line.substr(0, line.find_first_of(" \t"));
        t.key = (train ? "train/" : "test/") + t.name;
        t.train = train;
        // Train names are "<id>_<start6>_<end6>" file stems; test names are bare YouTube ids of
        // Kinetics validation files, which are named "<id>_<start6>_<end6>" too.
        t.video = finder.find(t.name);
        if (t.video.empty()) t.video = finder.find_prefix(t.name + "_");
        tasks.push_back(std::move(t));
      }
    }
    return tasks;
  }

  ClipResult process(const ClipTask& task, ClipOutputs& out) const override {
    VideoDecoder video(task.video);
    require_streams(video, true);
    FramePlan plan;
    plan.rate_fps = fps_;
    plan.rate_dir = (task.train ? "train-frames-1fps/train/" : "val-frames-1fps/test/") + task.name;
    plan.quality = quality_;
    const auto counts = extract_frames(video, plan, out);
    if (counts.rate_frames < kKineticsSoundsMinFrames)
      throw ClipError(fmt::format("{}: too short: {} frames at {} fps (the loader needs {} or more)", task.video,
                                  counts.rate_frames, fps_, kKineticsSoundsMinFrames));
    const auto samples = pcm16_to_float(video.decode_audio(kKineticsSoundsRate, 1));
    if (samples.size() < 400) throw ClipError(fmt::format("{}: too short: {} audio samples", task.video, samples.size()));
    const std::string spec = (task.train ? "train_spec/" : "test_spec/") + task.name + ".npy";
    out.write(spec, encode_npy(ks_audio_feature(samples, kKineticsSoundsRate, 1024)));
    out.declare(plan.rate_dir);
    out.declare(spec);  // last: the loader takes a clip whose .npy exists
    ClipResult r;
    r.frames = counts.rate_frames;
    r.audio_seconds = static_cast<double>(samples.size()) / kKineticsSoundsRate;
    return r;
  }

 private:
  double fps_;
  int quality_;
};

}  // namespace

std::unique_ptr<Recipe> kinetics_sounds_recipe(const PrepareOptions& options) {
  return std::make_unique<KineticsSounds>(options);
}

}  // namespace crmt::prepare
