#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "crmt/data/dataset.h"
#include "crmt/data/speech_synth.h"

namespace crmt {

// The embedded default dataset: an audio-visual classification set built on the machine, with no
// download. "visual" is a Fashion-MNIST image (Debian package dataset-fashion-mnist) with pixel noise
// and an occluding patch; "audio" is the log-mel spectrogram of the spoken class name ("ankle boot"),
// synthesized with libespeak-ng by one of many voices (train and test voices are disjoint), placed
// at a random offset in a 0.99 s clip with coloured noise at a random SNR. See docs/dataset.md.

constexpr int kEmbeddedVersion = 1;
constexpr int64_t kEmbeddedTrainSamples = 60000;
constexpr int64_t kEmbeddedTestSamples = 10000;

// The ten Fashion-MNIST classes, in label order ("t-shirt", "trouser", ..., "ankle boot").
const std::vector<std::string>& embedded_class_names();

// How the samples are made; the defaults are the tuned values documented in docs/dataset.md.
// Recorded in meta.json; a cache made with another recipe is re-prepared by prepare_embedded.
struct EmbeddedRecipe {
  int train_utterances_per_class = 40;
  int test_utterances_per_class = 20;
  int min_rate = 130, max_rate = 220;    // speaking rate, words per minute
  int min_pitch = 20, max_pitch = 80;    // eSpeak base pitch, 0-100
  double min_snr_db = -13, max_snr_db = 2;  // speech-to-noise ratio of each clip
  double max_noise_color = 1.5;          // noise power spectrum ~ 1/f^beta, beta uniform in [0, this]
  double gain_db = 6;                    // clip gain uniform in [-gain_db, +gain_db] dB
  double visual_noise_std = 0.2;         // additive Gaussian pixel noise, pixel values in [0, 1]
  int visual_occlusion = 10;             // side of a square patch set to 0 at a random place (0: none)
};

struct EmbeddedPrepareOptions {
  std::string dir = "data/embedded";
  uint64_t seed = 0;                    // the data seed: voices, pairing, offsets, noise
  int64_t num_train = kEmbeddedTrainSamples;  // the first num_train Fashion-MNIST training images
  int64_t num_test = kEmbeddedTestSamples;    // the first num_test Fashion-MNIST test images
  std::string source_dir = "/usr/share/datasets/fashion-mnist";
  EmbeddedRecipe recipe;
  bool force = false;                   // re-prepare even when a matching cache exists
  bool show_progress = true;
};

// Writes the dataset into opt.dir (raw little-endian arrays + meta.json, see docs/dataset.md).
// A cache whose meta.json matches (version, seed, sizes, recipe) and whose files have the recorded
// sizes is reused (returns false) unless opt.force; otherwise it is rebuilt (returns true). Files are
// written under temporary names and renamed; meta.json is removed first and written last, so an
// interrupted run never leaves a cache that looks valid.
bool prepare_embedded(const EmbeddedPrepareOptions& opt);
// Full-size preparation with the default recipe.
void prepare_embedded(const std::string& dir, uint64_t seed, bool show_progress);

struct EmbeddedOptions {
  std::string dir = "data/embedded";
  int64_t train_size = 0;     // samples taken from the train split before the validation split (0 = all)
  int64_t test_size = 0;      // 0 = all
  double val_fraction = 0.1;  // part of the (selected) train samples held out as validation
  uint64_t seed = 0;          // picks the subsets and the validation split
  uint64_t data_seed = 0;     // the seed the cache must have been prepared with
  bool prepare_if_missing = true;  // prepare the full set (60000/10000) when meta.json is missing
  bool show_progress = true;
  std::string source_dir = "/usr/share/datasets/fashion-mnist";  // used when preparing
};

// Loads (preparing first when missing and allowed) the embedded dataset: float32 tensors normalized
// with the train statistics ("visual" [1,28,28] bounded to the normalized images of pixel values 0
// and 1, "audio" [1,32,32] unbounded), class-stratified seeded subsets when sizes are given, and a
// validation split. Throws crmt::Error naming the file when meta.json is missing (and preparing is
// not allowed), of another version or seed, or a data file is missing, truncated or corrupt (the
// message then asks for `crmt data prepare --force`).
DataSplits load_embedded(const EmbeddedOptions& opt);

// The voices of a split's utterance bank, utterance k of class c at [c * per_class + k].
enum class EmbeddedSplit { Train, Test };
std::vector<SpeechVoice> embedded_voices(EmbeddedSplit split, const EmbeddedRecipe& recipe, uint64_t seed);

// `n` indices (sorted, int64) of `labels` (int64 [N]) chosen at random with seed `seed` such that
// every class keeps its share of the samples (to within one). n == N returns all indices.
at::Tensor stratified_indices(const at::Tensor& labels, int64_t n, uint64_t seed);

}  // namespace crmt
