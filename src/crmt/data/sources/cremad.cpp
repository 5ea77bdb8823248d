// CREMA-D as the public OGM-GE code lays it out: train.csv / test.csv of `<FileName>,<EMOTION>`,
// AudioWAV/<FileName>.wav turned into a log-magnitude STFT on the fly (22.05 kHz, 3 s, n_fft 512,
// hop 353: [257, 188]) and frames Image-01-FPS/<FileName>/*.jpg. See docs/datasets.md.
#include <ATen/ATen.h>


#include "crmt/core/error.h"
#include "crmt/data/source_registry.h"
#include "crmt/data/sources/class_lists.h"
#include "crmt/data/sources/clip_files.h"
#include "crmt/data/sources/clip_source.h"
#include "crmt/media/audio/spectrogram.h"
#include "crmt/media/io/jpeg.h"
#include "crmt/media/io/wav.h"

namespace crmt {

namespace {

CRMT_REGISTER_CONFIG_SECTION("data.cremad", R"(
train_csv: train.csv        # `<FileName>,<EMOTION>` rows
test_csv: test.csv
audio: AudioWAV             # <FileName>.wav
frames_dir: Image-01-FPS    # <FileName>/*.jpg
frames: 1                   # OGM-GE's default (its fps argument)
image_size: 224
)");

constexpr int kRate = 22050;

struct CremadSettings {
  int frames = 1, image_size = 224;
};

at::Tensor cremad_audio(const std::string& path) {
  const auto wav = read_wav(path);
  auto x = resample(wav.mono(), wav.sample_rate, kRate);
  if (x.empty()) fail("{}: no audio samples", path);
  return cremad_audio_feature(x);
}

class CremadSource : public ClipSource {
 public:
  CremadSource(std::string name, ModalitySpecs specs, std::vector<Clip> clips, CremadSettings s)
      : ClipSource(std::move(name), std::move(specs), cremad_emotions(), std::move(clips)), s_(s) {}

  Sample get(int64_t row, const SampleOptions& o) const override {
    const auto& c = clip(row);
    std::mt19937_64 rng(o.seed);
    auto sample = empty_sample(c, 2);
    if (wanted(o, 0)) {
      const auto files = jpeg_files(c.frames_dir);
      if (static_cast<int>(files.size()) < s_.frames)
        fail("{}: {} frames, at least {} needed", c.frames_dir, files.size(), s_.frames);
      const int seg = static_cast<int>(files.size()) / s_.frames;
      std::vector<Image> images;
      for (int i = 0; i < s_.frames; ++i) {
        const int k = o.augment ? i * seg + uniform_int(rng, 0, seg - 1) : i * seg + seg / 2;
        images.push_back(read_jpeg(c.frames_dir + "/" + files[static_cast<size_t>(k)], JpegColor::Rgb));
      }
      sample.inputs[0] = rgb_frames(images, FrameTransform{s_.image_size, true}, o.augment, rng);
    }
    if (wanted(o, 1)) sample.inputs[1] = cremad_audio(c.audio_path).unsqueeze(0);
    return sample;
  }

 private:
  CremadSettings s_;
};

DataSplits load_cremad(const Config& config, bool show_progress) {
  const auto root = config.str("data.root");
  CremadSettings s;
  s.frames = static_cast<int>(config.integer("data.cremad.frames"));
  s.image_size = static_cast<int>(config.integer("data.cremad.image_size"));
  if (s.frames < 1 || s.image_size < 8) fail("data.cremad: frames >= 1 and image_size >= 8 are needed");
  const auto audio_root = join_inside(root, config.str("data.cremad.audio"), "data.cremad.audio");
  const auto frames_root = join_inside(root, config.str("data.cremad.frames_dir"), "data.cremad.frames_dir");
  auto split_source = [&](const std::string& split, OnBadSample policy) -> std::shared_ptr<const Source> {
    const auto csv = join_inside(root, config.str("data.cremad." + split + "_csv"), "data.cremad." + split + "_csv");
    const auto name = fmt::format("cremad {} ({})", split, root);
    IndexProblems problems(name, policy);
    std::vector<Clip> clips;
    const auto lines = read_index_lines(csv);
    for (size_t i = 0; i < lines.size(); ++i) {
      const auto f = split_csv_row(lines[i]);
      if (i == 0 && f.size() == 2 && f[0] == "name") continue;  // a header, as some copies have
      const auto where = fmt::format("{}:{}", csv, i + 1);
      Clip c;
      try {
        if (f.size() != 2) fail("expected `<FileName>,<EMOTION>`, got '{}'", lines[i]);
        auto it = std::find(cremad_emotions().begin(), cremad_emotions().end(), f[1]);
        if (it == cremad_emotions().end()) fail("emotion '{}' is not one of {}", f[1], fmt::join(cremad_emotions(), ", "));
        c.label = it - cremad_emotions().begin();
        c.name = f[0];
        c.audio_path = join_inside(audio_root, c.name + ".wav", csv);
        c.frames_dir = join_inside(frames_root, c.name, csv);
      } catch (const Error& e) {
        problems.add(where, e.what());
        continue;
      }
      if (!clip_files_present(c, s.frames, problems)) continue;
      clips.push_back(std::move(c));
    }
    problems.report(clips.size(), show_progress);
    if (clips.empty()) fail("{}: no usable clip (the split is empty)", csv);
    ModalitySpecs specs{rgb_spec("visual", s.frames, s.image_size), ModalitySpec{"audio", {1, 257, 188}}};
    return std::make_shared<CremadSource>(name, std::move(specs), std::move(clips), s);
  };
  return file_splits(config, split_source("train", train_policy(config)), split_source("test", test_policy(config)));
}
CRMT_REGISTER_SOURCE("cremad", "CREMA-D in the OGM-GE layout (6 emotions, audio + visual)", load_cremad);

}  // namespace

}  // namespace crmt
