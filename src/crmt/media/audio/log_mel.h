#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace crmt {

// The audio front end of the embedded dataset: decimation to a lower sample rate and a log-mel
// spectrogram (Hann-windowed STFT power, triangular mel filterbank, natural log).
enum class MelScale {
  Htk,     // mel = 2595 log10(1 + f / 700)
  Slaney,  // linear below 1 kHz, logarithmic above (librosa's default, Auditory Toolbox)
};

struct LogMelOptions {
  int64_t sample_rate = 11025;
  int64_t n_fft = 512;
  int64_t hop_length = 352;  // 32 frames for a clip of 31 * 352 samples (0.99 s at 11025 Hz)
  int64_t n_mels = 32;
  double f_min = 0.0;
  double f_max = 0.0;  // 0: sample_rate / 2
  MelScale scale = MelScale::Slaney;
  bool slaney_norm = true;  // scale each triangle to unit area (2 / bandwidth), as librosa's norm="slaney"
  double eps = 1e-6;        // log(mel + eps)
};

double hz_to_mel(double hz, MelScale scale);
double mel_to_hz(double mel, MelScale scale);

// The n_mels + 2 edge frequencies (Hz), equally spaced in mel: band b rises from edge b, peaks at
// edge b + 1 and falls to zero at edge b + 2.
std::vector<double> mel_band_edges(const LogMelOptions& opt);

// Triangular mel filterbank, float32 [n_mels, n_fft / 2 + 1], to multiply a power spectrum with.
at::Tensor mel_filterbank(const LogMelOptions& opt);

// Frames produced for `num_samples` samples (centered STFT): 1 + num_samples / hop_length.
int64_t log_mel_frames(int64_t num_samples, const LogMelOptions& opt);

// log(mel_filterbank @ |STFT(waveform)|^2 + eps) of float waveforms [T] or [B, T] (full scale +-1),
// giving [n_mels, frames] or [B, n_mels, frames] float32. The STFT is centered (reflect padding).
at::Tensor log_mel_spectrogram(const at::Tensor& waveform, const LogMelOptions& opt);

// Low-pass filters (windowed sinc, cutoff at 0.9 of the new Nyquist frequency) and keeps every
// `factor`-th sample: 22050 Hz speech to 11025 Hz with factor 2.
std::vector<float> decimate(const std::vector<float>& samples, int factor, int taps = 63);

}  // namespace crmt
