#pragma once
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "crmt/media/audio/log_mel.h"
#include "crmt/media/speech/speech_synth.h"

namespace crmt {

class ProgressBar;

// How the samples of the embedded dataset are made (see embedded_dataset.h and docs/dataset.md):
// voices, utterance banks, noise, the pairing of images with utterances, and the stratified subsets
// taken when loading. Everything is a deterministic function of the seed.

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

// Throws crmt::Error when the recipe cannot make a dataset (empty bank, min > max, patch too big).
void check_recipe(const EmbeddedRecipe& recipe);

// The voices of a split's utterance bank, utterance k of class c at [c * per_class + k].
enum class EmbeddedSplit { Train, Test };
std::vector<SpeechVoice> embedded_voices(EmbeddedSplit split, const EmbeddedRecipe& recipe, uint64_t seed);

// `n` indices (sorted, int64) of `labels` (int64 [N]) chosen at random with seed `seed` such that
// every class keeps its share of the samples (to within one). n == N returns all indices.
at::Tensor stratified_indices(const at::Tensor& labels, int64_t n, uint64_t seed);

// The seed of random stream `stream` of `seed` (splitmix64), so that the streams are independent.
uint64_t mix_seed(uint64_t seed, uint64_t stream);

// The audio front end: 11025 Hz, n_fft 512, hop 352, 32 mels; clips of 31 hops give 32 frames.
LogMelOptions embedded_log_mel();
int64_t embedded_clip_samples();

struct Utterance {
  std::vector<float> samples;  // 11025 Hz, full scale +-1
  double power = 0;            // mean square over the (trimmed) utterance
};

// The utterance bank of a split, bank[c][k] spoken by embedded_voices(...)[c * per_class + k].
// Throws crmt::Error when a voice gives almost no audio.
std::vector<std::vector<Utterance>> synthesize_bank(EmbeddedSplit split, const EmbeddedRecipe& recipe, uint64_t seed);

// Unit-RMS noise tracks [256, 3 s] whose power spectra fall as 1/f^beta, beta uniform in [0, max_color].
at::Tensor noise_bank(const EmbeddedRecipe& recipe, at::Generator& gen);

struct SplitData {
  at::Tensor visual;  // uint8 [N,1,28,28]
  at::Tensor audio;   // float16 [N,1,32,32]
  at::Tensor labels;  // int64 [N]
};

// The samples of a split: image i (uint8 [N,28,28]) with noise and occlusion, paired with a random
// utterance of its class (labels int64 [N] index `bank`) in noise. Advances `done` and `bar` as
// samples are made.
SplitData generate_split(EmbeddedSplit split, const at::Tensor& images, const at::Tensor& labels,
                         const std::vector<std::vector<Utterance>>& bank, const EmbeddedRecipe& recipe, uint64_t seed,
                         ProgressBar& bar, int64_t& done);

}  // namespace crmt
