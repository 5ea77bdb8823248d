#include "crmt/media/audio/log_mel.h"

#include <ATen/TensorOperators.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/hann_window.h>
#include <ATen/ops/log.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/stft.h>
#include <ATen/ops/view_as_real.h>
#include <ATen/ops/zeros.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "crmt/core/error.h"

namespace crmt {

namespace {

// Slaney's scale: 3 mels per 200 Hz below 1 kHz, then 27 mels per factor 6.4 (log step).
constexpr double kSlaneyLinearStep = 200.0 / 3.0;
constexpr double kSlaneyBreakHz = 1000.0;
constexpr double kSlaneyBreakMel = kSlaneyBreakHz / kSlaneyLinearStep;  // 15
const double kSlaneyLogStep = std::log(6.4) / 27.0;

void check_options(const LogMelOptions& opt) {
  if (opt.sample_rate <= 0 || opt.n_fft <= 1 || opt.hop_length <= 0 || opt.n_mels <= 0)
    fail("log-mel options: sample_rate, n_fft, hop_length and n_mels must be positive (got {}, {}, {}, {})",
         opt.sample_rate, opt.n_fft, opt.hop_length, opt.n_mels);
  double f_max = opt.f_max > 0 ? opt.f_max : opt.sample_rate / 2.0;
  if (opt.f_min < 0 || opt.f_min >= f_max || f_max > opt.sample_rate / 2.0 + 1e-9)
    fail("log-mel options: need 0 <= f_min < f_max <= sample_rate / 2 (got f_min {}, f_max {}, sample rate {})",
         opt.f_min, f_max, opt.sample_rate);
}

}  // namespace

double hz_to_mel(double hz, MelScale scale) {
  if (scale == MelScale::Htk) return 2595.0 * std::log10(1.0 + hz / 700.0);
  if (hz < kSlaneyBreakHz) return hz / kSlaneyLinearStep;
  return kSlaneyBreakMel + std::log(hz / kSlaneyBreakHz) / kSlaneyLogStep;
}

double mel_to_hz(double mel, MelScale scale) {
  if (scale == MelScale::Htk) return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0);
  if (mel < kSlaneyBreakMel) return mel * kSlaneyLinearStep;
  return kSlaneyBreakHz * std::exp(kSlaneyLogStep * (mel - kSlaneyBreakMel));
}

std::vector<double> mel_band_edges(const LogMelOptions& opt) {
  check_options(opt);
  double f_max = opt.f_max > 0 ? opt.f_max : opt.sample_rate / 2.0;
  double lo = hz_to_mel(opt.f_min, opt.scale), hi = hz_to_mel(f_max, opt.scale);
  std::vector<double> edges(static_cast<size_t>(opt.n_mels + 2));
  for (size_t i = 0; i < edges.size(); ++i)
    edges[i] = mel_to_hz(lo + (hi - lo) * static_cast<double>(i) / static_cast<double>(opt.n_mels + 1), opt.scale);
  return edges;
}

at::Tensor mel_filterbank(const LogMelOptions& opt) {
  auto edges = mel_band_edges(opt);
  const int64_t n_freqs = opt.n_fft / 2 + 1;
  auto fb = at::zeros({opt.n_mels, n_freqs}, at::kFloat);
  auto acc = fb.accessor<float, 2>();
  for (int64_t b = 0; b < opt.n_mels; ++b) {
    double left = edges[b], center = edges[b + 1], right = edges[b + 2];
    double norm = opt.slaney_norm ? 2.0 / (right - left) : 1.0;
    for (int64_t k = 0; k < n_freqs; ++k) {
      double f = static_cast<double>(k) * opt.sample_rate / static_cast<double>(opt.n_fft);
      double up = (f - left) / (center - left), down = (right - f) / (right - center);
      double w = std::max(0.0, std::min(up, down));
      acc[b][k] = static_cast<float>(w * norm);
    }
  }
  return fb;
}

int64_t log_mel_frames(int64_t num_samples, const LogMelOptions& opt) { return 1 + num_samples / opt.hop_length; }

at::Tensor log_mel_spectrogram(const at::Tensor& waveform, const LogMelOptions& opt) {
  check_options(opt);
  if (waveform.dim() != 1 && waveform.dim() != 2)
    fail("log-mel: waveform must be [T] or [B, T], got {} dimensions", waveform.dim());
  if (waveform.size(-1) <= opt.n_fft / 2)
    fail("log-mel: waveform of {} samples is too short for n_fft {}", waveform.size(-1), opt.n_fft);
  auto x = waveform.to(at::kFloat);
  auto window = at::hann_window(opt.n_fft, at::TensorOptions().dtype(at::kFloat).device(x.device()));
  auto spec = at::stft(x, opt.n_fft, opt.hop_length, opt.n_fft, window, /*center=*/true, /*pad_mode=*/"reflect",
                          /*normalized=*/false, /*onesided=*/true, /*return_complex=*/true);
  auto power = at::view_as_real(spec).pow(2).sum(-1);  // |X|^2, [..., freqs, frames]
  auto fb = mel_filterbank(opt).to(x.device());
  auto mel = at::matmul(fb, power);  // [..., n_mels, frames]
  return at::log(mel + opt.eps);
}

std::vector<float> decimate(const std::vector<float>& samples, int factor, int taps) {
  if (factor < 1) fail("decimate: factor must be at least 1, got {}", factor);
  if (factor == 1) return samples;
  if (taps < 3 || taps % 2 == 0) fail("decimate: taps must be odd and at least 3, got {}", taps);
  const double cutoff = 0.9 / factor;  // as a fraction of the input Nyquist frequency
  const int half = taps / 2;
  std::vector<double> h(static_cast<size_t>(taps));
  double sum = 0;
  for (int i = 0; i < taps; ++i) {
    double t = i - half;
    double sinc = t == 0 ? 1.0 : std::sin(M_PI * cutoff * t) / (M_PI * cutoff * t);
    double blackman = 0.42 - 0.5 * std::cos(2 * M_PI * i / (taps - 1)) + 0.08 * std::cos(4 * M_PI * i / (taps - 1));
    h[i] = sinc * blackman;
    sum += h[i];
  }
  for (auto& v : h) v /= sum;
  const int64_t n = static_cast<int64_t>(samples.size());
  std::vector<float> out(static_cast<size_t>((n + factor - 1) / factor));
  for (int64_t o = 0; o < static_cast<int64_t>(out.size()); ++o) {
    int64_t center = o * factor;
    double acc = 0;
    for (int i = 0; i < taps; ++i) {
      int64_t j = center + i - half;
      if (j >= 0 && j < n) acc += h[i] * samples[j];
    }
    out[o] = static_cast<float>(acc);
  }
  return out;
}

}  // namespace crmt
