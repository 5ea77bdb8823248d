#pragma once
#include <ATen/core/Tensor.h>

#include <random>
#include <string>
#include <vector>

#include "crmt/core/config.h"
#include "crmt/data/bad_samples.h"
#include "crmt/data/dataset.h"
#include "crmt/data/source.h"
#include "crmt/media/image/image.h"

namespace crmt {

// What the file sources share: the clips of one split found through an index file, each with a
// name and a label; a sample's files are only read by get().
struct Clip {
  std::string name;  // the index's name for it, used in messages
  int64_t label = 0;
  std::string frames_dir;  // where its JPEG frames are ("" when the dataset has none)
  std::string audio_path;  // its spectrogram / waveform file ("" when none)
  int frame_count = 0;     // JPEG files found when indexing
};

// The clips an index names that cannot be used (missing folder, unknown class, ...), gathered
// while indexing and reported once: skipped with a one-line summary, or a one-line error.
class IndexProblems {
 public:
  IndexProblems(std::string split_name, OnBadSample policy) : split_(std::move(split_name)), policy_(policy) {}
  // `where` is the file or folder at fault; throws at once under OnBadSample::Error.
  void add(const std::string& where, const std::string& problem);
  // Prints "<split>: 3 of 20715 clips left out: ... (first: ...)" to stderr when any were.
  void report(size_t kept, bool show) const;

 private:
  std::string split_;
  OnBadSample policy_;
  int64_t count_ = 0;
  std::vector<std::string> first_;
};

// Whether modality m of a source is to be read.
inline bool wanted(const SampleOptions& o, size_t m) { return o.wanted.empty() || o.wanted[m]; }

// A sample of clip `c` with its label and `modalities` empty slots, to fill.
inline Sample empty_sample(const Clip& c, size_t modalities) {
  Sample s;
  s.label = c.label;
  s.inputs.resize(modalities);
  return s;
}

// Whether a clip's files are there: its audio file (when it has one) and a frame folder of at least
// `min_frames` JPEGs (counted into c.frame_count). Reports to `problems` what is not.
bool clip_files_present(Clip& c, int min_frames, IndexProblems& problems);

class ClipSource : public Source {
 public:
  ClipSource(std::string name, ModalitySpecs specs, std::vector<std::string> class_names, std::vector<Clip> clips);
  int64_t size() const override { return static_cast<int64_t>(clips_.size()); }
  const ModalitySpecs& specs() const override { return specs_; }
  const std::vector<std::string>& class_names() const override { return class_names_; }
  const at::Tensor& labels() const override { return labels_; }
  std::string name() const override { return name_; }
  std::string describe(int64_t row) const override;
  const Clip& clip(int64_t row) const { return clips_.at(static_cast<size_t>(row)); }

 private:
  std::string name_;
  ModalitySpecs specs_;
  std::vector<std::string> class_names_;
  std::vector<Clip> clips_;
  at::Tensor labels_;
};

// How RGB frames become the model's input: the training transform (RandomResizedCrop, as
// Kinetics-Sounds / VGGSound / CREMA-D, or a plain resize, as UCF101; then a horizontal flip with
// probability 0.5, drawn per frame as the official loaders do) or the test one (resize to size x size,
// aspect not kept), then ImageNet normalization.
struct FrameTransform {
  int size = 224;
  bool random_crop = true;
};
// Normalized frames [T, 3, size, size] of `images` (one per time step).
at::Tensor rgb_frames(const std::vector<Image>& images, const FrameTransform& t, bool augment, std::mt19937_64& rng);

// A precomputed spectrogram: the .npy at `path`, which must be float32 [rows, cols]; returned as
// [1, rows, cols]. Throws crmt::Error naming the file otherwise.
at::Tensor read_spectrogram_npy(const std::string& path, int64_t rows, int64_t cols);

// The modality spec of ImageNet-normalized RGB clips: [frames, 3, size, size] bounded per channel to
// the images of pixel values 0..255.
ModalitySpec rgb_spec(const std::string& name, int frames, int size);

// The policies of a config: data.on_bad_sample, or skip for training and error for evaluation.
OnBadSample train_policy(const Config& config);
OnBadSample test_policy(const Config& config);

// The train / validation / test splits of two file sources (data.train_size / test_size subsets,
// data.val_fraction held out of training), as every file dataset builds them.
DataSplits file_splits(const Config& config, std::shared_ptr<const Source> train, std::shared_ptr<const Source> test);

}  // namespace crmt
