#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace crmt {

// The audio features of the public multi-modal codebases, computed from waveforms (full scale +-1).

// torchaudio.compliance.kaldi.fbank with the settings of the official CRMT / OGM-GE Kinetics-Sounds
// script: htk_compat, no energy, symmetric Hann ("hanning") window, no dither, snip_edges, per-frame
// DC removal, pre-emphasis 0.97, FFT size the next power of two, power spectrum, HTK-mel triangles
// from low_freq to high_freq (0: Nyquist), log(max(x, FLT_EPSILON)).
struct FbankOptions {
  double sample_rate = 16000;
  int64_t num_mel_bins = 128;
  double frame_length_ms = 25.0;
  double frame_shift_ms = 10.0;
  double preemphasis = 0.97;
  double low_freq = 20.0;
  double high_freq = 0.0;
};
// float32 [frames, num_mel_bins], frames = 1 + (N - window) / shift (0 rows when N < window).
at::Tensor kaldi_fbank(const std::vector<float>& waveform, const FbankOptions& opt);

// The official CRMT Kinetics-Sounds audio feature: waveform minus its mean, fbank (128 bins),
// zero rows appended or rows cut to `target_frames`, then (x + 4.503877) / (5.141276 * 2).
// float32 [target_frames, 128].
at::Tensor ks_audio_feature(std::vector<float> waveform, int sample_rate, int64_t target_frames = 1024);

// log(|STFT| + eps) as librosa.stft computes it: periodic Hann window of n_fft, centered (n_fft / 2
// samples of padding each side: zeros, as librosa >= 0.9, or a reflection, as earlier versions).
// float32 [n_fft / 2 + 1, 1 + N / hop].
struct LogStftOptions {
  int64_t n_fft = 256;
  int64_t hop = 128;
  bool reflect_padding = false;
  double eps = 1e-7;
};
at::Tensor log_stft(const std::vector<float>& waveform, const LogStftOptions& opt);

// OGM-GE's VGGSound feature: the 16 kHz mono waveform repeated until it lasts at least 10 s, the
// 5 s window (80,000 samples) starting at sample `start` (0..80,000; OGM-GE draws it uniformly),
// clipped to +-1, log|STFT| with n_fft 256, hop 128: float32 [129, 626].
constexpr int64_t kVggSoundWindowRange = 80000;
at::Tensor vggsound_audio_feature(std::vector<float> waveform_16k, int64_t start);

// OGM-GE's CREMA-D feature: the 22,050 Hz mono waveform repeated, its first 3 s (66,150 samples),
// clipped to +-1, log|STFT| with n_fft 512, hop 353: float32 [257, 188].
at::Tensor cremad_audio_feature(const std::vector<float>& waveform_22k);

// Band-limited resampling (windowed sinc) from one rate to another, as librosa.load(sr=...) does
// when the file's rate differs; equal rates return the input.
std::vector<float> resample(const std::vector<float>& waveform, int from_rate, int to_rate);

}  // namespace crmt
