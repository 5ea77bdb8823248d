#include "crmt/media/audio/log_mel.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "crmt/core/error.h"

namespace {

at::Tensor sine(double freq, double rate, int64_t n, double amplitude = 0.5) {
  return amplitude * torch::sin(2 * M_PI * freq / rate * torch::arange(n, torch::kDouble)).to(torch::kFloat);
}

// The band whose (normalized) triangle weighs `freq` most.
int64_t band_of(double freq, const crmt::LogMelOptions& opt) {
  auto edges = crmt::mel_band_edges(opt);
  int64_t best = -1;
  double best_w = 0;
  for (int64_t b = 0; b < opt.n_mels; ++b) {
    double w = std::min((freq - edges[b]) / (edges[b + 1] - edges[b]), (edges[b + 2] - freq) / (edges[b + 2] - edges[b + 1]));
    if (opt.slaney_norm) w *= 2.0 / (edges[b + 2] - edges[b]);
    if (w > best_w) best_w = w, best = b;
  }
  return best;
}

TEST(LogMel, MelScalesInvertAndMatchKnownPoints) {
  EXPECT_NEAR(crmt::hz_to_mel(1000, crmt::MelScale::Slaney), 15.0, 1e-9);
  EXPECT_NEAR(crmt::hz_to_mel(1000, crmt::MelScale::Htk), 999.99, 0.01);
  EXPECT_NEAR(crmt::hz_to_mel(6400, crmt::MelScale::Slaney), 42.0, 1e-9);  // 27 log-steps above 1 kHz
  for (double hz : {0.0, 100.0, 999.0, 1000.0, 3000.0, 5512.5}) {
    EXPECT_NEAR(crmt::mel_to_hz(crmt::hz_to_mel(hz, crmt::MelScale::Slaney), crmt::MelScale::Slaney), hz, 1e-6);
    EXPECT_NEAR(crmt::mel_to_hz(crmt::hz_to_mel(hz, crmt::MelScale::Htk), crmt::MelScale::Htk), hz, 1e-6);
  }
}

TEST(LogMel, FilterbankTrianglesHaveUnitAreaWithSlaneyNorm) {
  crmt::LogMelOptions opt;
  opt.n_fft = 4096;  // fine frequency grid so the Riemann sum approximates the area
  auto fb = crmt::mel_filterbank(opt);
  ASSERT_EQ(fb.sizes().vec(), (std::vector<int64_t>{32, 2049}));
  EXPECT_GE(fb.min().item<float>(), 0.0f);
  double df = double(opt.sample_rate) / opt.n_fft;
  auto area = fb.sum(1) * df;
  for (int64_t b = 2; b < 32; ++b) EXPECT_NEAR(area[b].item<float>(), 1.0, 0.05) << "band " << b;
  opt.slaney_norm = false;
  EXPECT_NEAR(crmt::mel_filterbank(opt).max().item<float>(), 1.0, 0.05);
}

TEST(LogMel, ShapeOfSingleAndBatchedWaveforms) {
  crmt::LogMelOptions opt;
  const int64_t n = 31 * opt.hop_length;
  EXPECT_EQ(crmt::log_mel_frames(n, opt), 32);
  auto one = crmt::log_mel_spectrogram(sine(440, opt.sample_rate, n), opt);
  EXPECT_EQ(one.sizes().vec(), (std::vector<int64_t>{32, 32}));
  EXPECT_EQ(one.scalar_type(), torch::kFloat);
  auto batch = crmt::log_mel_spectrogram(torch::stack({sine(440, opt.sample_rate, n), sine(2000, opt.sample_rate, n)}), opt);
  EXPECT_EQ(batch.sizes().vec(), (std::vector<int64_t>{2, 32, 32}));
  EXPECT_TRUE(torch::allclose(batch[0], one, 1e-4, 1e-4));
  // Silence gives log(eps) everywhere.
  auto silent = crmt::log_mel_spectrogram(torch::zeros({n}), opt);
  EXPECT_NEAR(silent.max().item<float>(), std::log(opt.eps), 1e-4);
}

TEST(LogMel, PureSinePeaksInItsBand) {
  crmt::LogMelOptions opt;
  const int64_t n = 31 * opt.hop_length;
  for (double freq : {250.0, 700.0, 1000.0, 1900.0, 3300.0, 4800.0}) {
    auto mel = crmt::log_mel_spectrogram(sine(freq, opt.sample_rate, n), opt);
    auto profile = mel.mean(1);  // average over time: [n_mels]
    int64_t peak = profile.argmax().item<int64_t>();
    EXPECT_EQ(peak, band_of(freq, opt)) << freq << " Hz";
    // The peak band is far above the distant bands (a sine has no energy there).
    EXPECT_GT(profile[peak].item<float>() - profile.min().item<float>(), 5.0) << freq << " Hz";
  }
}

TEST(LogMel, LouderSineShiftsLogMelByTheGain) {
  crmt::LogMelOptions opt;
  const int64_t n = 31 * opt.hop_length;
  auto a = crmt::log_mel_spectrogram(sine(1000, opt.sample_rate, n, 0.1), opt);
  auto b = crmt::log_mel_spectrogram(sine(1000, opt.sample_rate, n, 0.4), opt);
  int64_t peak = a.mean(1).argmax().item<int64_t>();
  // Power grows by 16x: log difference ln(16) in the peak band where eps is negligible.
  EXPECT_NEAR((b[peak] - a[peak]).mean().item<float>(), std::log(16.0), 1e-3);
}

TEST(LogMel, DecimateKeepsPassbandAndRemovesAliases) {
  const double rate = 22050;
  auto to_vec = [](const at::Tensor& t) { return std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel()); };
  auto rms = [](const std::vector<float>& v) {
    double s = 0;
    for (size_t i = 200; i + 200 < v.size(); ++i) s += double(v[i]) * v[i];
    return std::sqrt(s / (v.size() - 400));
  };
  auto low = crmt::decimate(to_vec(sine(1000, rate, 22050, 1.0)), 2);
  EXPECT_EQ(low.size(), 11025u);
  EXPECT_NEAR(rms(low), std::sqrt(0.5), 0.01);
  // 8 kHz would alias to 3025 Hz at 11025 Hz without the low-pass filter.
  auto high = crmt::decimate(to_vec(sine(8000, rate, 22050, 1.0)), 2);
  EXPECT_LT(rms(high), 0.01);
}

TEST(LogMel, RejectsBadOptions) {
  crmt::LogMelOptions opt;
  opt.f_max = 9000;  // above Nyquist of 11025 Hz
  EXPECT_THROW(crmt::mel_filterbank(opt), crmt::Error);
  EXPECT_THROW(crmt::log_mel_spectrogram(torch::zeros({2, 3, 4}), crmt::LogMelOptions{}), crmt::Error);
}

}  // namespace
