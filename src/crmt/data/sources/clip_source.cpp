#include "crmt/data/sources/clip_source.h"

#include <ATen/ATen.h>

#include <filesystem>

#include "crmt/core/error.h"
#include "crmt/data/embedded_synthesis.h"
#include "crmt/data/npy_tensor.h"
#include "crmt/data/sources/clip_files.h"
#include "crmt/media/image/image_ops.h"

namespace crmt {

namespace {
constexpr size_t kProblemsShown = 3;
constexpr float kImageNetMean[3] = {0.485f, 0.456f, 0.406f};
constexpr float kImageNetStd[3] = {0.229f, 0.224f, 0.225f};
}  // namespace

void IndexProblems::add(const std::string& where, const std::string& problem) {
  if (policy_ == OnBadSample::Error)
    fail("{}: {} (set data.on_bad_sample=skip to leave such clips out)", where, problem);
  ++count_;
  if (first_.size() < kProblemsShown) first_.push_back(where + ": " + problem);
}

void IndexProblems::report(size_t kept, bool show) const {
  if (count_ == 0 || !show) return;
  fmt::print(stderr, "{}: {} of {} clips left out (first: {})\n", split_, count_, static_cast<int64_t>(kept) + count_,
             fmt::join(first_, "; "));
}

bool clip_files_present(Clip& c, int min_frames, IndexProblems& problems) {
  if (!c.audio_path.empty() && !std::filesystem::exists(c.audio_path)) {
    problems.add(c.audio_path, "audio file missing");
    return false;
  }
  c.frame_count = count_jpeg_files(c.frames_dir);
  if (c.frame_count < 0) {
    problems.add(c.frames_dir, "frame folder missing");
    return false;
  }
  if (c.frame_count < min_frames) {
    problems.add(c.frames_dir, fmt::format("{} frames, at least {} needed", c.frame_count, min_frames));
    return false;
  }
  return true;
}

ClipSource::ClipSource(std::string name, ModalitySpecs specs, std::vector<std::string> class_names,
                       std::vector<Clip> clips)
    : name_(std::move(name)), specs_(std::move(specs)), class_names_(std::move(class_names)), clips_(std::move(clips)) {
  if (clips_.empty()) fail("{}: no usable clip (the split is empty)", name_);
  std::vector<int64_t> labels;
  labels.reserve(clips_.size());
  for (const auto& c : clips_) labels.push_back(c.label);
  labels_ = at::tensor(labels, at::kLong);
}

std::string ClipSource::describe(int64_t row) const {
  const auto& c = clip(row);
  return fmt::format("{} clip '{}'", name_, c.name);
}

at::Tensor rgb_frames(const std::vector<Image>& images, const FrameTransform& t, bool augment, std::mt19937_64& rng) {
  auto out = at::empty({static_cast<int64_t>(images.size()), 3, t.size, t.size}, at::kFloat);
  float* dst = out.data_ptr<float>();
  for (const auto& image : images) {
    Image frame;
    if (augment && t.random_crop) {
      frame = resized_crop(image, random_resized_crop_box(image.height, image.width, rng), t.size, t.size);
    } else {
      frame = resize_bilinear(image, t.size, t.size);
    }
    if (augment && std::uniform_real_distribution<double>(0.0, 1.0)(rng) < 0.5) frame = flip_horizontal(frame);
    to_normalized_planes(frame, kImageNetMean, kImageNetStd, dst);
    dst += 3 * t.size * t.size;
  }
  return out;
}

at::Tensor read_spectrogram_npy(const std::string& path, int64_t rows, int64_t cols) {
  auto spec = read_npy(path);
  if (spec.scalar_type() != at::kFloat || spec.dim() != 2 || spec.size(0) != rows || spec.size(1) != cols)
    fail("{}: a spectrogram must be float32 [{}, {}], this one is {} [{}]", path, rows, cols,
         c10::toString(spec.scalar_type()), fmt::join(spec.sizes().vec(), ","));
  return spec.unsqueeze(0);
}

ModalitySpec rgb_spec(const std::string& name, int frames, int size) {
  ModalitySpec spec;
  spec.name = name;
  spec.shape = {frames, 3, size, size};
  for (int c = 0; c < 3; ++c) {
    spec.channel_lower.push_back((0.0 - kImageNetMean[c]) / kImageNetStd[c]);
    spec.channel_upper.push_back((1.0 - kImageNetMean[c]) / kImageNetStd[c]);
  }
  spec.lower = *std::min_element(spec.channel_lower.begin(), spec.channel_lower.end());
  spec.upper = *std::max_element(spec.channel_upper.begin(), spec.channel_upper.end());
  return spec;
}

OnBadSample train_policy(const Config& config) {
  return parse_on_bad_sample(config.str("data.on_bad_sample"), OnBadSample::Skip);
}
OnBadSample test_policy(const Config& config) {
  return parse_on_bad_sample(config.str("data.on_bad_sample"), OnBadSample::Error);
}

DataSplits file_splits(const Config& config, std::shared_ptr<const Source> train_source,
                       std::shared_ptr<const Source> test_source) {
  const auto seed = static_cast<uint64_t>(config.integer("seed"));
  auto train = MultiModalDataset::of(std::move(train_source), true, train_policy(config));
  auto test = MultiModalDataset::of(std::move(test_source), false, test_policy(config));
  // Class-stratified subsets, as the embedded set takes them.
  auto take = [&](MultiModalDataset& d, const char* key, uint64_t stream) {
    const int64_t n = config.integer(key);
    if (n < 0) fail("{}: must be >= 0 (0 = all), got {}", key, n);
    if (n == 0 || n >= d.size()) return;
    const auto name = d.source;
    d = d.subset(stratified_indices(d.labels, n, mix_seed(seed, stream)));
    d.source = name;
  };
  take(train, "data.train_size", 1);
  take(test, "data.test_size", 2);
  train.validate();
  test.validate();
  return split_validation(std::move(train), std::move(test), config.real("data.val_fraction"), seed);
}

}  // namespace crmt
