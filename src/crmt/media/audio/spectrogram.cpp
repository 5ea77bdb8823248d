#include "crmt/media/audio/spectrogram.h"

#include <ATen/TensorOperators.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/clamp_min.h>
#include <ATen/ops/constant_pad_nd.h>
#include <ATen/ops/fft_rfft.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/hann_window.h>
#include <ATen/ops/min.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/zeros.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <numeric>
#include <vector>

#include "crmt/core/error.h"

namespace crmt {

namespace {

// Kaldi's mel scale (natural log form of HTK's).
double kaldi_mel(double hz) { return 1127.0 * std::log(1.0 + hz / 700.0); }

int64_t next_power_of_two(int64_t n) {
  int64_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

// torchaudio's get_mel_banks (no VTLN): triangles equally spaced in mel between low and high,
// evaluated at the first padded/2 FFT bins, plus a zero column for the Nyquist bin. Float32 as there.
at::Tensor kaldi_mel_banks(int64_t bins, int64_t padded, double sample_rate, double low, double high) {
  const int64_t fft_bins = padded / 2;
  const double mel_low = kaldi_mel(low), mel_high = kaldi_mel(high);
  const double delta = (mel_high - mel_low) / static_cast<double>(bins + 1);
  const auto b = at::arange(bins, at::kFloat).unsqueeze(1);
  const auto left = mel_low + b * delta, center = mel_low + (b + 1.0) * delta, right = mel_low + (b + 2.0) * delta;
  const auto freq = (sample_rate / static_cast<double>(padded)) * at::arange(fft_bins, at::kFloat);
  const auto mel = (1.0 + freq / 700.0).log().mul(1127.0).unsqueeze(0);
  const auto up = (mel - left) / (center - left), down = (right - mel) / (right - center);
  const auto banks = at::clamp_min(at::min(up, down), 0.0);
  return at::constant_pad_nd(banks, {0, 1}, 0.0);  // [bins, padded / 2 + 1]
}

void check_fbank_options(const FbankOptions& opt, double high) {
  if (opt.sample_rate <= 0 || opt.frame_length_ms <= 0 || opt.frame_shift_ms <= 0 || opt.num_mel_bins <= 0)
    fail("kaldi_fbank: sample_rate, frame_length_ms, frame_shift_ms and num_mel_bins must be positive");
  if (opt.low_freq < 0 || high > opt.sample_rate / 2 || opt.low_freq >= high)
    fail("kaldi_fbank: need 0 <= low_freq < high_freq <= Nyquist (got {} and {} at {} Hz)", opt.low_freq, high,
         opt.sample_rate);
}

// numpy's 'reflect' padding index (edge not repeated), for any distance outside [0, n).
int64_t reflect_index(int64_t i, int64_t n) {
  if (n == 1) return 0;
  const int64_t period = 2 * (n - 1);
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - i;
}

// resampy's 'kaiser_best' filter: 64 zero crossings, Kaiser beta 14.77, rolloff 0.9476.
constexpr int kZeroCrossings = 64;
constexpr double kKaiserBeta = 14.769656459379492;
constexpr double kRolloff = 0.9475937167399596;

// The windowed-sinc interpolation filter at distance d (in input samples) for a rate ratio <= 1.
class SincFilter {
 public:
  explicit SincFilter(double ratio)
      : ratio_(ratio), half_width_(kZeroCrossings / ratio), i0_beta_(std::cyl_bessel_i(0.0, kKaiserBeta)) {}
  double half_width() const { return half_width_; }
  double operator()(double d) const {
    const double u = d / half_width_;
    if (u <= -1.0 || u >= 1.0) return 0.0;
    const double x = kRolloff * ratio_ * d;
    const double sinc = x == 0.0 ? 1.0 : std::sin(M_PI * x) / (M_PI * x);
    const double window = std::cyl_bessel_i(0.0, kKaiserBeta * std::sqrt(1.0 - u * u)) / i0_beta_;
    return kRolloff * ratio_ * sinc * window;
  }

 private:
  double ratio_, half_width_, i0_beta_;
};

}  // namespace

at::Tensor kaldi_fbank(const std::vector<float>& waveform, const FbankOptions& opt) {
  const double high = opt.high_freq > 0 ? opt.high_freq : opt.sample_rate / 2 + opt.high_freq;
  check_fbank_options(opt, high);
  // Same expressions (and truncation) as torchaudio.compliance.kaldi.
  const auto window = static_cast<int64_t>(opt.sample_rate * opt.frame_length_ms * 0.001);
  const auto shift = static_cast<int64_t>(opt.sample_rate * opt.frame_shift_ms * 0.001);
  if (window < 2 || shift < 1) fail("kaldi_fbank: window of {} and shift of {} samples are too short", window, shift);
  const int64_t padded = next_power_of_two(window);
  const auto n = static_cast<int64_t>(waveform.size());
  if (n < window) return at::zeros({0, opt.num_mel_bins}, at::kFloat);
  const int64_t frames_count = 1 + (n - window) / shift;  // snip_edges

  const auto x = at::from_blob(const_cast<float*>(waveform.data()), {n}, at::kFloat);
  auto frames = x.as_strided({frames_count, window}, {shift, 1});
  frames = frames - frames.mean(1, /*keepdim=*/true);  // remove_dc_offset
  // Pre-emphasis with the first sample replicated: y[0] = x[0] - k * x[0].
  const auto previous = at::cat({frames.narrow(1, 0, 1), frames.narrow(1, 0, window - 1)}, 1);
  frames = frames - opt.preemphasis * previous;
  frames = frames * at::hann_window(window, /*periodic=*/false, at::kFloat);
  frames = at::constant_pad_nd(frames, {0, padded - window}, 0.0);
  const auto power = at::fft_rfft(frames).abs().pow(2);  // [frames, padded / 2 + 1]
  const auto banks = kaldi_mel_banks(opt.num_mel_bins, padded, opt.sample_rate, opt.low_freq, high);
  return at::mm(power, banks.t()).clamp_min(FLT_EPSILON).log().contiguous();
}

at::Tensor ks_audio_feature(std::vector<float> waveform, int sample_rate, int64_t target_frames) {
  if (target_frames <= 0) fail("ks_audio_feature: target_frames must be positive (got {})", target_frames);
  if (!waveform.empty()) {
    const double mean = std::accumulate(waveform.begin(), waveform.end(), 0.0) / static_cast<double>(waveform.size());
    for (auto& v : waveform) v = static_cast<float>(v - mean);
  }
  FbankOptions opt;
  opt.sample_rate = sample_rate;
  auto fbank = kaldi_fbank(waveform, opt);
  const int64_t frames = fbank.size(0);
  if (frames < target_frames)
    fbank = at::constant_pad_nd(fbank, {0, 0, 0, target_frames - frames}, 0.0);
  else
    fbank = fbank.narrow(0, 0, target_frames);
  // The normalisation constants of the official scripts (AudioSet statistics).
  return ((fbank - (-4.503877f)) / (5.141276f * 2.0f)).contiguous();
}

at::Tensor log_stft(const std::vector<float>& waveform, const LogStftOptions& opt) {
  if (opt.n_fft < 2 || opt.hop < 1) fail("log_stft: n_fft must be >= 2 and hop >= 1 (got {}, {})", opt.n_fft, opt.hop);
  const auto n = static_cast<int64_t>(waveform.size());
  if (opt.reflect_padding && n == 0) fail("log_stft: reflection padding needs a non-empty waveform");
  const int64_t pad = opt.n_fft / 2;
  std::vector<float> padded(static_cast<size_t>(n + 2 * pad), 0.0f);
  for (int64_t i = 0; i < n + 2 * pad; ++i) {
    const int64_t j = i - pad;
    if (j >= 0 && j < n) padded[static_cast<size_t>(i)] = waveform[static_cast<size_t>(j)];
    else if (opt.reflect_padding) padded[static_cast<size_t>(i)] = waveform[static_cast<size_t>(reflect_index(j, n))];
  }
  const int64_t frames_count = 1 + (n + 2 * pad - opt.n_fft) / opt.hop;
  const auto x = at::from_blob(padded.data(), {n + 2 * pad}, at::kFloat);
  const auto frames = x.as_strided({frames_count, opt.n_fft}, {opt.hop, 1}) *
                      at::hann_window(opt.n_fft, /*periodic=*/true, at::kFloat);
  const auto magnitude = at::fft_rfft(frames).abs();  // [frames, n_fft / 2 + 1]
  return (magnitude + static_cast<float>(opt.eps)).log().t().contiguous();
}

std::vector<float> resample(const std::vector<float>& waveform, int from_rate, int to_rate) {
  if (from_rate <= 0 || to_rate <= 0) fail("resample: rates must be positive (got {} and {})", from_rate, to_rate);
  if (from_rate == to_rate) return waveform;
  const auto n = static_cast<int64_t>(waveform.size());
  // Output n reads input time n * from / to = n * M / L: the fractional part takes L values (phases).
  const int64_t g = std::gcd(from_rate, to_rate), L = to_rate / g, M = from_rate / g;
  const int64_t out_len = (n * to_rate + from_rate - 1) / from_rate;  // ceil, as librosa
  const SincFilter filter(std::min(1.0, static_cast<double>(to_rate) / from_rate));
  const auto reach = static_cast<int64_t>(std::ceil(filter.half_width()));
  const int64_t taps = 2 * reach + 2;  // inputs base - reach .. base + reach + 1
  // One row of weights per phase when that table is small, else weights computed per output.
  const bool table = L * taps <= (int64_t{1} << 22);
  std::vector<float> weights(static_cast<size_t>(table ? L * taps : taps));
  auto fill = [&](int64_t phase, float* w) {
    const double frac = static_cast<double>(phase) / static_cast<double>(L);
    for (int64_t j = 0; j < taps; ++j) w[j] = static_cast<float>(filter(frac - static_cast<double>(j - reach)));
  };
  if (table)
    for (int64_t p = 0; p < L; ++p) fill(p, &weights[static_cast<size_t>(p * taps)]);
  std::vector<float> out(static_cast<size_t>(out_len));
  for (int64_t i = 0; i < out_len; ++i) {
    const int64_t base = (i * M) / L, phase = (i * M) % L;
    const float* w = weights.data();
    if (table) w += phase * taps;
    else fill(phase, weights.data());
    // Samples outside the signal are zeros: only the overlapping taps are summed.
    const int64_t lo = std::max<int64_t>(0, base - reach), hi = std::min<int64_t>(n, base + reach + 2);
    double acc = 0;
    for (int64_t k = lo; k < hi; ++k) acc += static_cast<double>(waveform[static_cast<size_t>(k)]) * w[k - (base - reach)];
    out[static_cast<size_t>(i)] = static_cast<float>(acc);
  }
  return out;
}

at::Tensor vggsound_audio_feature(std::vector<float> x, int64_t start) {
  constexpr int64_t kWindow = 5 * 16000;
  if (x.empty()) fail("vggsound_audio_feature: no audio samples");
  if (start < 0 || start > kVggSoundWindowRange)
    fail("vggsound_audio_feature: start must be 0..{} (got {})", kVggSoundWindowRange, start);
  while (x.size() < static_cast<size_t>(2 * kWindow)) x.insert(x.end(), x.begin(), x.end());
  std::vector<float> window(x.begin() + static_cast<std::ptrdiff_t>(start),
                            x.begin() + static_cast<std::ptrdiff_t>(start + kWindow));
  for (auto& v : window) v = std::clamp(v, -1.0f, 1.0f);
  LogStftOptions opt;
  opt.n_fft = 256;
  opt.hop = 128;
  return log_stft(window, opt);
}

at::Tensor cremad_audio_feature(const std::vector<float>& x) {
  constexpr int64_t kSamples = 3 * 22050;  // 188 STFT frames with hop 353
  if (x.empty()) fail("cremad_audio_feature: no audio samples");
  std::vector<float> clip(static_cast<size_t>(kSamples));
  for (size_t i = 0; i < clip.size(); ++i) clip[i] = std::clamp(x[i % x.size()], -1.0f, 1.0f);  // tiled, as OGM-GE
  LogStftOptions opt;
  opt.n_fft = 512;
  opt.hop = 353;
  return log_stft(clip, opt);
}

}  // namespace crmt
