// kaldi_fbank against a float64 implementation written here from the Kaldi definitions (no
// torchaudio on this machine): per frame DC removal, pre-emphasis with the first sample repeated,
// symmetric Hann window, zero padding to 512, |DFT|^2, HTK-mel triangles, log.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cfloat>
#include <cmath>
#include <random>

#include "crmt/media/audio/spectrogram.h"

namespace crmt {
namespace {

double mel(double hz) { return 1127.0 * std::log(1.0 + hz / 700.0); }

std::vector<std::vector<double>> reference_fbank(const std::vector<float>& x, double rate, int bins) {
  const int window = static_cast<int>(rate * 0.025), shift = static_cast<int>(rate * 0.010), fft = 512;
  const int frames = x.size() < static_cast<size_t>(window) ? 0 : 1 + (static_cast<int>(x.size()) - window) / shift;
  const double mel_low = mel(20.0), mel_high = mel(rate / 2), step = (mel_high - mel_low) / (bins + 1);
  std::vector<std::vector<double>> out;
  for (int f = 0; f < frames; ++f) {
    std::vector<double> s(window);
    double mean = 0;
    for (int i = 0; i < window; ++i) mean += s[i] = x[f * shift + i];
    mean /= window;
    for (auto& v : s) v -= mean;
    for (int i = window - 1; i >= 0; --i) s[i] -= 0.97 * s[i > 0 ? i - 1 : 0];
    for (int i = 0; i < window; ++i) s[i] *= 0.5 - 0.5 * std::cos(2 * M_PI * i / (window - 1));
    std::vector<double> power(fft / 2);
    for (int k = 0; k < fft / 2; ++k) {
      double re = 0, im = 0;
      for (int i = 0; i < window; ++i) re += s[i] * std::cos(2 * M_PI * k * i / fft), im -= s[i] * std::sin(2 * M_PI * k * i / fft);
      power[k] = re * re + im * im;
    }
    std::vector<double> row(bins);
    for (int b = 0; b < bins; ++b) {
      const double left = mel_low + b * step, center = left + step, right = center + step;
      double e = 0;
      for (int k = 0; k < fft / 2; ++k) {
        const double m = mel(k * rate / fft);
        if (m > left && m < right) e += power[k] * (m <= center ? (m - left) / (center - left) : (right - m) / (right - center));
      }
      row[b] = std::log(std::max(e, static_cast<double>(FLT_EPSILON)));
    }
    out.push_back(row);
  }
  return out;
}

TEST(KaldiFbankReference, AgreesWithAFloat64ImplementationOfTheDefinitions) {
  std::mt19937 rng(3);
  // Broadband noise with two tones: every mel bin holds energy, so float32 rounding (which the
  // official torchaudio computation shares) stays far below the tolerance.
  std::normal_distribution<float> noise(0.0f, 0.3f);
  std::vector<float> x(16000 / 4);  // 0.25 s: 23 frames
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = 0.1f * std::sin(2 * M_PI * 523.25 * i / 16000) + 0.1f * std::sin(2 * M_PI * 3000 * i / 16000) + noise(rng);
  FbankOptions opt;
  const auto ours = kaldi_fbank(x, opt);
  const auto ref = reference_fbank(x, 16000, 128);
  ASSERT_EQ(ours.size(0), static_cast<int64_t>(ref.size()));
  ASSERT_EQ(ours.size(0), 1 + (static_cast<int64_t>(x.size()) - 400) / 160);
  const auto a = ours.accessor<float, 2>();
  double worst = 0;
  size_t worst_frame = 0;
  int worst_bin = 0;
  for (size_t f = 0; f < ref.size(); ++f)
    for (int b = 0; b < 128; ++b)
      if (std::abs(a[f][b] - ref[f][b]) > worst) worst = std::abs(a[f][b] - ref[f][b]), worst_frame = f, worst_bin = b;
  EXPECT_LT(worst, 1e-4) << "frame " << worst_frame << " bin " << worst_bin << ": " << a[worst_frame][worst_bin]
                         << " vs " << ref[worst_frame][worst_bin];
}

}  // namespace
}  // namespace crmt
