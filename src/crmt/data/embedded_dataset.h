#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crmt/data/dataset.h"
#include "crmt/data/embedded_synthesis.h"  // EmbeddedRecipe, embedded_class_names, embedded_voices, ...

namespace crmt {

// The embedded default dataset: an audio-visual classification set built on the machine, with no
// download. "visual" is a Fashion-MNIST image (Debian package dataset-fashion-mnist) with pixel noise
// and an occluding patch; "audio" is the log-mel spectrogram of the spoken class name ("ankle boot"),
// synthesized with libespeak-ng by one of many voices (train and test voices are disjoint), placed
// at a random offset in a 0.99 s clip with coloured noise at a random SNR. See docs/dataset.md.
// This file prepares and loads the cache; embedded_synthesis.h makes the samples and array_store.h
// holds the on-disk format.

constexpr int kEmbeddedVersion = 1;
constexpr int64_t kEmbeddedTrainSamples = 60000;
constexpr int64_t kEmbeddedTestSamples = 10000;

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
  // When set: the cache must have been made with these corruption settings (visual noise and
  // occlusion, audio SNR range; the config's data.embedded section), and is prepared with this
  // recipe when missing.
  std::optional<EmbeddedRecipe> recipe;
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

}  // namespace crmt
