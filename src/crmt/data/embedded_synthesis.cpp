#include "crmt/data/embedded_synthesis.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "crmt/core/error.h"
#include "crmt/core/progress.h"

namespace crmt {

namespace {

constexpr int kSpeechFactor = 2;  // 22050 Hz -> 11025 Hz
constexpr int64_t kChunk = 1024;  // samples generated per batch
constexpr int kNoiseTracks = 256;
constexpr double kNoiseTrackSeconds = 3.0;

using Bank = std::vector<std::vector<Utterance>>;

// Draws as the data was first generated (a fresh distribution per draw; libstdc++'s uniform
// distributions keep no state), so that every prepared cache stays reproducible.
int64_t uniform_int(std::mt19937_64& rng, int64_t lo, int64_t hi) {
  return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
}

double unit(std::mt19937_64& rng) { return std::uniform_real_distribution<double>(0.0, 1.0)(rng); }

// One clip of `length` samples: the utterance from `offset` on (cut at both ends) scaled by
// `gain`, plus the noise track scaled by `noise_scale`.
void mix_clip(float* row, int64_t length, const Utterance& u, int64_t offset, float gain, const float* track,
              float noise_scale) {
  const int64_t len = static_cast<int64_t>(u.samples.size());
  for (int64_t t = 0; t < length; ++t) {
    int64_t j = t - offset;
    float s = (j >= 0 && j < len) ? u.samples[static_cast<size_t>(j)] : 0.0f;
    row[t] = gain * s + noise_scale * track[t];
  }
}

// Waveforms [b, clip] of one chunk: per sample an utterance of its class at a random offset,
// coloured noise at a random SNR, and a random gain.
at::Tensor mix_audio_chunk(const int64_t* labels, int64_t b, const Bank& bank, const at::Tensor& noise,
                           const EmbeddedRecipe& recipe, std::mt19937_64& rng) {
  const int64_t L = embedded_clip_samples(), track_len = noise.size(1);
  const float* noise_ptr = noise.data_ptr<float>();
  auto wave = torch::zeros({b, L}, torch::kFloat);
  float* w = wave.data_ptr<float>();
  for (int64_t i = 0; i < b; ++i) {
    const auto& utts = bank[static_cast<size_t>(labels[i])];
    const auto& u = utts[static_cast<size_t>(uniform_int(rng, 0, static_cast<int64_t>(utts.size()) - 1))];
    const int64_t len = static_cast<int64_t>(u.samples.size());
    const int64_t offset = uniform_int(rng, std::min<int64_t>(0, L - len), std::max<int64_t>(0, L - len));
    const double snr_db = recipe.min_snr_db + (recipe.max_snr_db - recipe.min_snr_db) * unit(rng);
    const double gain = std::pow(10.0, (2 * unit(rng) - 1) * recipe.gain_db / 20.0);
    // Track first, then the start within it: the order in which the data was first generated.
    const int64_t track_index = uniform_int(rng, 0, kNoiseTracks - 1);
    const int64_t track_start = uniform_int(rng, 0, track_len - L);
    const float* track = noise_ptr + track_index * track_len + track_start;
    const float noise_scale = static_cast<float>(gain * std::sqrt(u.power / std::pow(10.0, snr_db / 10.0)));
    mix_clip(w + i * L, L, u, offset, static_cast<float>(gain), track, noise_scale);
  }
  return wave;
}

// Images uint8 [b,1,28,28] of one chunk of `images` (uint8 [b,28,28]): Gaussian pixel noise (from
// `gen`), then an occluding square at a random place (from `rng`), clamped to the pixel range.
at::Tensor corrupt_image_chunk(const at::Tensor& images, const EmbeddedRecipe& recipe, std::mt19937_64& rng,
                               at::Generator& gen) {
  const int64_t b = images.size(0);
  auto img = images.to(torch::kFloat).div(255.0);
  if (recipe.visual_noise_std > 0) img = img + torch::randn({b, 28, 28}, gen, torch::kFloat) * recipe.visual_noise_std;
  if (recipe.visual_occlusion > 0) {
    const int s = recipe.visual_occlusion;
    for (int64_t i = 0; i < b; ++i) {
      int64_t y = uniform_int(rng, 0, 28 - s), x = uniform_int(rng, 0, 28 - s);
      img[i].narrow(0, y, s).narrow(1, x, s).zero_();
    }
  }
  return img.clamp(0.0, 1.0).mul(255.0).round().to(torch::kByte).unsqueeze(1);
}

// Largest-remainder quotas for taking `n` of `total` samples from groups of the given sizes:
// floor(n * share), then one more for the largest remainders (ties: the earlier group).
std::vector<int64_t> largest_remainder_quotas(const std::vector<std::vector<int64_t>>& groups, int64_t n,
                                              int64_t total) {
  std::vector<int64_t> quota;
  std::vector<std::pair<double, size_t>> remainders;
  int64_t assigned = 0;
  for (const auto& idx : groups) {
    double exact = static_cast<double>(n) * static_cast<double>(idx.size()) / static_cast<double>(total);
    quota.push_back(static_cast<int64_t>(std::floor(exact)));
    assigned += quota.back();
    remainders.push_back({exact - std::floor(exact), quota.size() - 1});
  }
  std::stable_sort(remainders.begin(), remainders.end(), [](auto& a, auto& b) { return a.first > b.first; });
  for (size_t r = 0; assigned < n; ++r, ++assigned) quota[remainders[r % remainders.size()].second]++;
  return quota;
}

}  // namespace

void check_recipe(const EmbeddedRecipe& r) {
  if (r.train_utterances_per_class < 1 || r.test_utterances_per_class < 1)
    fail("embedded recipe: need at least one utterance per class (got {} train, {} test)",
         r.train_utterances_per_class, r.test_utterances_per_class);
  if (r.min_rate > r.max_rate || r.min_pitch > r.max_pitch || r.min_snr_db > r.max_snr_db)
    fail("embedded recipe: rate, pitch and SNR ranges must have min <= max");
  if (r.visual_occlusion < 0 || r.visual_occlusion > 28)
    fail("embedded recipe: visual_occlusion must be in [0, 28], got {}", r.visual_occlusion);
}

uint64_t mix_seed(uint64_t seed, uint64_t stream) {
  // splitmix64 of seed and stream, so that every random stream of every split is independent.
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

LogMelOptions embedded_log_mel() { return LogMelOptions{}; }  // 11025 Hz, n_fft 512, hop 352, 32 mels

int64_t embedded_clip_samples() {
  auto lm = embedded_log_mel();
  return lm.hop_length * 31;  // 32 frames
}

std::vector<std::vector<Utterance>> synthesize_bank(EmbeddedSplit split, const EmbeddedRecipe& recipe, uint64_t seed) {
  const auto& classes = embedded_class_names();
  auto voices = embedded_voices(split, recipe, seed);
  const size_t per_class = voices.size() / classes.size();
  std::vector<SpeechRequest> requests;
  for (size_t i = 0; i < voices.size(); ++i) requests.push_back({classes[i / per_class], voices[i]});
  auto pcms = synthesize_speech(requests);  // one fresh eSpeak per bank: deterministic
  std::vector<std::vector<Utterance>> bank(classes.size());
  for (size_t i = 0; i < voices.size(); ++i) {
    auto pcm = trim_silence(pcms[i]);
    if (pcm.size() < 1000)
      fail("espeak-ng voice '{}': \"{}\" gave almost no audio ({} samples)", voices[i].describe(),
           requests[i].text, pcm.size());
    std::vector<float> f(pcm.size());
    for (size_t j = 0; j < pcm.size(); ++j) f[j] = static_cast<float>(pcm[j]) / 32768.0f;
    Utterance u;
    u.samples = decimate(f, kSpeechFactor);
    double sq = 0;
    for (float v : u.samples) sq += double(v) * v;
    u.power = sq / static_cast<double>(u.samples.size());
    bank[i / per_class].push_back(std::move(u));
  }
  return bank;
}

at::Tensor noise_bank(const EmbeddedRecipe& recipe, at::Generator& gen) {
  const int64_t len = static_cast<int64_t>(kNoiseTrackSeconds * embedded_log_mel().sample_rate);
  auto white = torch::randn({kNoiseTracks, len}, gen, torch::kFloat);
  auto beta = torch::rand({kNoiseTracks, 1}, gen, torch::kFloat) * recipe.max_noise_color;
  auto spec = torch::fft::rfft(white, c10::nullopt, -1);
  auto k = torch::arange(spec.size(-1), torch::kFloat).clamp_min(1.0).unsqueeze(0);
  auto shape = torch::pow(k, -beta / 2);  // amplitude ~ f^(-beta/2)
  shape.select(1, 0).zero_();             // no DC
  auto colored = torch::fft::irfft(spec * shape, len, -1);
  return colored / colored.pow(2).mean(-1, true).sqrt();
}

SplitData generate_split(EmbeddedSplit split, const at::Tensor& images, const at::Tensor& labels, const Bank& bank,
                         const EmbeddedRecipe& recipe, uint64_t seed, ProgressBar& bar, int64_t& done) {
  const uint64_t stream = split == EmbeddedSplit::Train ? 10 : 20;
  std::mt19937_64 rng(mix_seed(seed, stream));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(mix_seed(seed, stream + 1));
  auto noise = noise_bank(recipe, gen);
  const int64_t n = labels.size(0), L = embedded_clip_samples();
  const auto lm = embedded_log_mel();
  SplitData out;
  out.labels = labels.clone();
  out.visual = torch::empty({n, 1, 28, 28}, torch::kByte);
  out.audio = torch::empty({n, 1, lm.n_mels, log_mel_frames(L, lm)}, torch::kHalf);
  const int64_t* label_ptr = labels.data_ptr<int64_t>();
  // Chunk by chunk, audio draws before visual draws: the order fixes every sample for a seed.
  for (int64_t start = 0; start < n; start += kChunk) {
    const int64_t b = std::min(kChunk, n - start);
    auto wave = mix_audio_chunk(label_ptr + start, b, bank, noise, recipe, rng);
    auto mel = log_mel_spectrogram(wave, lm);  // [b, 32, 32]
    out.audio.narrow(0, start, b).copy_(mel.unsqueeze(1).to(torch::kHalf));
    out.visual.narrow(0, start, b).copy_(corrupt_image_chunk(images.narrow(0, start, b), recipe, rng, gen));
    done += b;
    bar.update(done);
  }
  return out;
}

const std::vector<std::string>& embedded_class_names() {
  static const std::vector<std::string> names{"t-shirt", "trouser", "pullover", "dress", "coat",
                                              "sandal",  "shirt",   "sneaker",  "bag",   "ankle boot"};
  return names;
}

std::vector<SpeechVoice> embedded_voices(EmbeddedSplit split, const EmbeddedRecipe& recipe, uint64_t seed) {
  check_recipe(recipe);
  const auto& variants = split == EmbeddedSplit::Train ? train_voice_variants() : test_voice_variants();
  const auto& languages = english_languages();
  const int per_class =
      split == EmbeddedSplit::Train ? recipe.train_utterances_per_class : recipe.test_utterances_per_class;
  std::mt19937_64 rng(mix_seed(seed, split == EmbeddedSplit::Train ? 1 : 2));
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  std::vector<SpeechVoice> voices;
  const size_t classes = embedded_class_names().size();
  for (size_t c = 0; c < classes; ++c) {
    for (int k = 0; k < per_class; ++k) {
      SpeechVoice v;
      // Cycle through the variants (offset per class) so each class hears every speaker.
      v.variant = variants[(c + static_cast<size_t>(k)) % variants.size()];
      v.language = languages[static_cast<size_t>(pick(0, static_cast<int64_t>(languages.size()) - 1))];
      v.rate = static_cast<int>(pick(recipe.min_rate, recipe.max_rate));
      v.pitch = static_cast<int>(pick(recipe.min_pitch, recipe.max_pitch));
      voices.push_back(v);
    }
  }
  return voices;
}

at::Tensor stratified_indices(const at::Tensor& labels, int64_t n, uint64_t seed) {
  const int64_t total = labels.size(0);
  if (n < 0 || n > total) fail("stratified subset: cannot take {} of {} samples", n, total);
  if (n == total) return torch::arange(total, torch::kLong);
  auto lab = labels.to(torch::kLong).contiguous();
  const int64_t* p = lab.data_ptr<int64_t>();
  std::map<int64_t, std::vector<int64_t>> by_class;
  for (int64_t i = 0; i < total; ++i) by_class[p[i]].push_back(i);
  std::vector<std::vector<int64_t>> groups;  // in label order
  for (auto& entry : by_class) groups.push_back(std::move(entry.second));
  const auto quota = largest_remainder_quotas(groups, n, total);
  std::mt19937_64 rng(mix_seed(seed, 99));
  std::vector<int64_t> chosen;
  for (size_t c = 0; c < groups.size(); ++c) {
    auto& idx = groups[c];
    std::shuffle(idx.begin(), idx.end(), rng);
    chosen.insert(chosen.end(), idx.begin(), idx.begin() + std::min<int64_t>(quota[c], idx.size()));
  }
  std::sort(chosen.begin(), chosen.end());
  return torch::tensor(chosen, torch::kLong);
}

}  // namespace crmt
