#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace crmt {

// RIFF/WAVE audio: PCM 8/16/24/32-bit integer or 32/64-bit IEEE float (WAVE_FORMAT_EXTENSIBLE too).
struct WavAudio {
  int sample_rate = 0;
  int channels = 0;
  std::vector<float> samples;  // interleaved, full scale +-1 (integer PCM divided by 2^(bits-1))

  int64_t frames() const { return channels > 0 ? static_cast<int64_t>(samples.size()) / channels : 0; }
  // The channels averaged (as librosa's mono=True).
  std::vector<float> mono() const;
};

// Throws crmt::Error naming `path`: missing file, not RIFF/WAVE, unsupported encoding, truncated.
WavAudio read_wav(const std::string& path);

// Writes mono samples (clipped to +-1) as 16-bit PCM, atomically.
void write_wav(const std::string& path, const std::vector<float>& samples, int sample_rate);

// Full-scale floats (clipped to +-1) as 16-bit integers, x * 32767 rounded (libsndfile's scaling).
std::vector<int16_t> to_pcm16(const std::vector<float>& samples);
// The bytes of a mono 16-bit PCM WAV file; `name` is used in error messages.
std::string encode_wav(const std::vector<int16_t>& samples, int sample_rate, const std::string& name);

}  // namespace crmt
