// Kinetics-Sounds as the official CRMT code lays it out and reads it (datasets/KS_dataset.py):
// `<name> <label>` index files, a log-mel fbank [1024, 128] per clip as <name>.npy, and JPEG frames
// at 1 fps named frame_00001.jpg, ... in a folder per clip. See docs/datasets.md.
#include <ATen/ATen.h>

#include <sstream>

#include "crmt/core/error.h"
#include "crmt/data/source_registry.h"
#include "crmt/data/sources/class_lists.h"
#include "crmt/data/sources/clip_files.h"
#include "crmt/data/sources/clip_source.h"
#include "crmt/media/io/jpeg.h"

namespace crmt {

namespace {

CRMT_REGISTER_CONFIG_SECTION("data.kinetics_sounds", R"(
train_index: ks_train_overlap.txt        # `<name> <label>` per line, relative to data.root
test_index: ks_test_overlap.txt
train_audio: train_spec                  # <name>.npy: float32 [audio_frames, 128] log-mel fbank
test_audio: test_spec
train_frames: train-frames-1fps/train    # <name>/frame_00001.jpg, ... (1 fps)
test_frames: val-frames-1fps/test
frames: 3                                # frames per clip, one per segment
image_size: 224
audio_frames: 1024
)");

struct KsSettings {
  int frames = 3, image_size = 224;
  int64_t audio_frames = 1024;
};

class KineticsSoundsSource : public ClipSource {
 public:
  KineticsSoundsSource(std::string name, ModalitySpecs specs, std::vector<Clip> clips, KsSettings s)
      : ClipSource(std::move(name), std::move(specs), kinetics_sounds_classes(), std::move(clips)), s_(s) {}

  Sample get(int64_t row, const SampleOptions& o) const override {
    const auto& c = clip(row);
    std::mt19937_64 rng(o.seed);
    auto sample = empty_sample(c, 2);
    if (wanted(o, 0)) {
      std::vector<Image> images;
      for (int t : segment_frames(c.frame_count, s_.frames, o.augment, rng, 9))
        images.push_back(read_jpeg(fmt::format("{}/frame_{:05d}.jpg", c.frames_dir, t), JpegColor::Rgb));
      sample.inputs[0] = rgb_frames(images, FrameTransform{s_.image_size, true}, o.augment, rng);
    }
    if (wanted(o, 1)) sample.inputs[1] = read_spectrogram_npy(c.audio_path, s_.audio_frames, 128);
    return sample;
  }

 private:
  KsSettings s_;
};

std::shared_ptr<const Source> ks_split(const Config& config, const std::string& split, OnBadSample policy,
                                       bool show_progress) {
  const auto root = config.str("data.root");
  const auto key = [&](const std::string& what) { return config.str("data.kinetics_sounds." + split + "_" + what); };
  KsSettings s;
  s.frames = static_cast<int>(config.integer("data.kinetics_sounds.frames"));
  s.image_size = static_cast<int>(config.integer("data.kinetics_sounds.image_size"));
  s.audio_frames = config.integer("data.kinetics_sounds.audio_frames");
  if (s.frames < 1 || s.image_size < 8 || s.audio_frames < 16)
    fail("data.kinetics_sounds: frames >= 1, image_size >= 8 and audio_frames >= 16 are needed");
  const auto index = join_inside(root, key("index"), "data.kinetics_sounds." + split + "_index");
  const auto audio_dir = join_inside(root, key("audio"), "data.kinetics_sounds." + split + "_audio");
  const auto frames_dir = join_inside(root, key("frames"), "data.kinetics_sounds." + split + "_frames");
  const auto name = fmt::format("kinetics_sounds {} ({})", split, root);
  IndexProblems problems(name, policy);
  std::vector<Clip> clips;
  const auto lines = read_index_lines(index);
  for (size_t i = 0; i < lines.size(); ++i) {
    std::istringstream fields(lines[i]);
    std::vector<std::string> parts;
    for (std::string f; fields >> f;) parts.push_back(f);
    const auto where = fmt::format("{}:{}", index, i + 1);
    Clip c;
    try {
      if (parts.size() < 2) fail("expected `<name> <label>`, got '{}'", lines[i]);
      c.name = parts.front();
      size_t used = 0;
      c.label = std::stoll(parts.back(), &used);
      if (used != parts.back().size()) fail("label '{}' is not an integer", parts.back());
      if (c.label < 0 || c.label >= static_cast<int64_t>(kinetics_sounds_classes().size()))
        fail("label {} is not one of the {} classes", c.label, kinetics_sounds_classes().size());
      c.audio_path = join_inside(audio_dir, c.name + ".npy", index);
      c.frames_dir = join_inside(frames_dir, c.name, index);
    } catch (const std::exception& e) {  // std::stoll's too
      problems.add(where, e.what());
      continue;
    }
    // The official loader keeps a clip only with more frames than it picks.
    if (!clip_files_present(c, s.frames + 1, problems)) continue;
    clips.push_back(std::move(c));
  }
  problems.report(clips.size(), show_progress);
  if (clips.empty()) fail("{}: no usable clip in the index (the split is empty)", index);
  ModalitySpecs specs{rgb_spec("visual", s.frames, s.image_size), ModalitySpec{"audio", {1, s.audio_frames, 128}}};
  return std::make_shared<KineticsSoundsSource>(name, std::move(specs), std::move(clips), s);
}

DataSplits load_kinetics_sounds(const Config& config, bool show_progress) {
  return file_splits(config, ks_split(config, "train", train_policy(config), show_progress),
                     ks_split(config, "test", test_policy(config), show_progress));
}
CRMT_REGISTER_SOURCE("kinetics_sounds", "Kinetics-Sounds in the official CRMT layout (31 classes, audio + visual)",
                     load_kinetics_sounds);

}  // namespace

}  // namespace crmt
