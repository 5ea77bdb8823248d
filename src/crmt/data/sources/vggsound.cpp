// VGGSound as the public OGM-GE code lays it out: the official vggsound.csv (youtube id, start
// second, label text, train|test), frames at 1 fps in a folder <id>_<start>.mp4/ per clip, and a
// 16 kHz wav per clip turned into a log-magnitude STFT on the fly (or a precomputed .npy). Class ids
// are the labels in order of first appearance among the training rows, as OGM-GE and
// BalanceBenchmark assign them. See docs/datasets.md.
#include <ATen/ATen.h>

#include <map>

#include "crmt/core/error.h"
#include "crmt/data/source_registry.h"
#include "crmt/data/sources/clip_files.h"
#include "crmt/data/sources/clip_source.h"
#include "crmt/media/audio/spectrogram.h"
#include "crmt/media/io/jpeg.h"
#include "crmt/media/io/wav.h"

namespace crmt {

namespace {

CRMT_REGISTER_CONFIG_SECTION("data.vggsound", R"(
csv: vggsound.csv                                   # the official index, relative to data.root
train_frames: train-videos/train-set-img/Image-01-FPS  # <id>_<start><frame_dir_suffix>/*.jpg
test_frames: test-videos/test-set-img/Image-01-FPS
frame_dir_suffix: .mp4
train_audio: train-audios/train-set                 # <id>_<start>.wav (or .npy)
test_audio: test-audios/test-set
audio: wav              # wav: 16 kHz, 5 s window -> log|STFT| (n_fft 256, hop 128) [129, 626]; npy: precomputed
audio_height: 129       # shape of a precomputed .npy spectrogram
audio_width: 626
frames: 3
image_size: 224
)");

constexpr int kSampleRate = 16000;

struct VggSettings {
  int frames = 3, image_size = 224;
  bool wav = true;
  int64_t audio_height = 129, audio_width = 626;
};

// OGM-GE's audio: tiled to at least 10 s, a 5 s window starting at a uniform second fraction in
// [0, 5 s] (in training and test alike; here the test draw is fixed per clip), clipped to +-1.
at::Tensor vgg_wav_feature(const std::string& path, std::mt19937_64& rng) {
  const auto wav = read_wav(path);
  if (wav.sample_rate != kSampleRate)
    fail("{}: {} Hz; VGGSound wavs must be 16000 Hz (ffmpeg -i clip.mp4 -ar 16000 clip.wav)", path, wav.sample_rate);
  auto x = wav.mono();
  if (x.empty()) fail("{}: no audio samples", path);
  return vggsound_audio_feature(std::move(x), uniform_int(rng, 0, static_cast<int>(kVggSoundWindowRange)));
}

class VggSoundSource : public ClipSource {
 public:
  VggSoundSource(std::string name, ModalitySpecs specs, std::vector<std::string> classes, std::vector<Clip> clips,
                 VggSettings s)
      : ClipSource(std::move(name), std::move(specs), std::move(classes), std::move(clips)), s_(s) {}

  Sample get(int64_t row, const SampleOptions& o) const override {
    const auto& c = clip(row);
    std::mt19937_64 rng(o.seed);
    auto sample = empty_sample(c, 2);
    if (wanted(o, 0)) {
      const auto files = jpeg_files(c.frames_dir);
      std::vector<Image> images;
      for (int t : segment_frames(static_cast<int>(files.size()), s_.frames, o.augment, rng, 9)) {
        if (t > static_cast<int>(files.size())) fail("{}: frame {} is missing", c.frames_dir, t);
        images.push_back(read_jpeg(c.frames_dir + "/" + files[static_cast<size_t>(t - 1)], JpegColor::Rgb));
      }
      sample.inputs[0] = rgb_frames(images, FrameTransform{s_.image_size, true}, o.augment, rng);
    }
    if (wanted(o, 1))
      sample.inputs[1] = s_.wav ? vgg_wav_feature(c.audio_path, rng).unsqueeze(0)
                                : read_spectrogram_npy(c.audio_path, s_.audio_height, s_.audio_width);
    return sample;
  }

 private:
  VggSettings s_;
};

struct CsvRow {
  std::string key, label, split, where;
};

DataSplits load_vggsound(const Config& config, bool show_progress) {
  const auto root = config.str("data.root");
  VggSettings s;
  s.frames = static_cast<int>(config.integer("data.vggsound.frames"));
  s.image_size = static_cast<int>(config.integer("data.vggsound.image_size"));
  const auto audio = config.str("data.vggsound.audio");
  if (audio != "wav" && audio != "npy") fail("data.vggsound.audio must be wav or npy, got '{}'", audio);
  s.wav = audio == "wav";
  s.audio_height = s.wav ? 129 : config.integer("data.vggsound.audio_height");
  s.audio_width = s.wav ? 626 : config.integer("data.vggsound.audio_width");
  if (s.frames < 1 || s.image_size < 8) fail("data.vggsound: frames >= 1 and image_size >= 8 are needed");
  const auto csv = join_inside(root, config.str("data.vggsound.csv"), "data.vggsound.csv");

  // Every row first: the class ids depend on the order of the training rows.
  std::vector<CsvRow> rows;
  std::vector<std::string> classes;
  std::map<std::string, int64_t> class_id;
  const auto lines = read_index_lines(csv);
  IndexProblems csv_problems("vggsound " + csv, train_policy(config));
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto f = split_csv_row(lines[i]);
    const auto where = fmt::format("{}:{}", csv, i + 1);
    if (f.size() != 4 || (f[3] != "train" && f[3] != "test")) {
      csv_problems.add(where, fmt::format("expected `<youtube id>,<start>,<label>,<train|test>`, got '{}'", lines[i]));
      continue;
    }
    rows.push_back({f[0] + "_" + f[1], f[2], f[3], where});
    if (f[3] == "train" && !class_id.count(f[2])) {
      class_id[f[2]] = static_cast<int64_t>(classes.size());
      classes.push_back(f[2]);
    }
  }
  csv_problems.report(rows.size(), show_progress);
  if (classes.size() < 2) fail("{}: fewer than 2 classes among the training rows", csv);

  auto split_source = [&](const std::string& split, OnBadSample policy) -> std::shared_ptr<const Source> {
    const auto frames_root = join_inside(root, config.str("data.vggsound." + split + "_frames"), "data.vggsound");
    const auto audio_root = join_inside(root, config.str("data.vggsound." + split + "_audio"), "data.vggsound");
    const auto suffix = config.str("data.vggsound.frame_dir_suffix");
    const auto name = fmt::format("vggsound {} ({})", split, root);
    IndexProblems problems(name, policy);
    std::vector<Clip> clips;
    for (const auto& r : rows) {
      if (r.split != split) continue;
      Clip c;
      c.name = r.key;
      auto it = class_id.find(r.label);
      try {
        if (it == class_id.end()) fail("class '{}' has no training row", r.label);
        c.label = it->second;
        c.frames_dir = join_inside(frames_root, r.key + suffix, csv);
        c.audio_path = join_inside(audio_root, r.key + (s.wav ? ".wav" : ".npy"), csv);
      } catch (const Error& e) {
        problems.add(r.where, e.what());
        continue;
      }
      if (!clip_files_present(c, s.frames + 1, problems)) continue;
      clips.push_back(std::move(c));
    }
    problems.report(clips.size(), show_progress);
    if (clips.empty()) fail("{}: no usable {} clip (the split is empty)", csv, split);
    ModalitySpecs specs{rgb_spec("visual", s.frames, s.image_size),
                        ModalitySpec{"audio", {1, s.audio_height, s.audio_width}}};
    return std::make_shared<VggSoundSource>(name, std::move(specs), classes, std::move(clips), s);
  };
  return file_splits(config, split_source("train", train_policy(config)), split_source("test", test_policy(config)));
}
CRMT_REGISTER_SOURCE("vggsound", "VGGSound from the official csv in the OGM-GE layout (audio + visual)", load_vggsound);

}  // namespace

}  // namespace crmt
