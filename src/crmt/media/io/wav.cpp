#include "crmt/media/io/wav.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>

#include "crmt/core/atomic_file.h"
#include "crmt/core/error.h"

namespace crmt {

namespace {

constexpr uint16_t kFormatPcm = 1;
constexpr uint16_t kFormatFloat = 3;
constexpr uint16_t kFormatExtensible = 0xFFFE;

uint32_t le32(const uint8_t* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24); }
uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

struct Format {
  uint16_t tag = 0;
  int channels = 0, sample_rate = 0, bits = 0, block_align = 0;
};

Format parse_format(const uint8_t* p, uint32_t size, const std::string& path) {
  if (size < 16) fail("{}: WAV 'fmt ' chunk too short ({} bytes)", path, size);
  Format f;
  f.tag = le16(p);
  f.channels = le16(p + 2);
  f.sample_rate = static_cast<int>(le32(p + 4));
  f.block_align = le16(p + 12);
  f.bits = le16(p + 14);
  // WAVE_FORMAT_EXTENSIBLE keeps the real format in the first two bytes of its sub-format GUID.
  if (f.tag == kFormatExtensible) {
    if (size < 40) fail("{}: WAV extensible 'fmt ' chunk too short ({} bytes)", path, size);
    f.tag = le16(p + 24);
  }
  if (f.channels <= 0 || f.sample_rate <= 0) fail("{}: WAV with {} channels at {} Hz", path, f.channels, f.sample_rate);
  const bool pcm = f.tag == kFormatPcm && (f.bits == 8 || f.bits == 16 || f.bits == 24 || f.bits == 32);
  const bool flt = f.tag == kFormatFloat && (f.bits == 32 || f.bits == 64);
  if (!pcm && !flt) fail("{}: unsupported WAV encoding (format tag {}, {} bits)", path, f.tag, f.bits);
  if (f.block_align != f.channels * f.bits / 8)
    fail("{}: WAV block align {} does not match {} channels of {} bits", path, f.block_align, f.channels, f.bits);
  return f;
}

float decode_sample(const uint8_t* p, const Format& f) {
  if (f.tag == kFormatFloat) {
    if (f.bits == 32) {
      uint32_t u = le32(p);
      float v;
      std::memcpy(&v, &u, 4);
      return v;
    }
    uint64_t u = le32(p) | (static_cast<uint64_t>(le32(p + 4)) << 32);
    double v;
    std::memcpy(&v, &u, 8);
    return static_cast<float>(v);
  }
  switch (f.bits) {
    case 8: return (static_cast<int>(p[0]) - 128) / 128.0f;  // 8-bit PCM is unsigned
    case 16: return static_cast<int16_t>(le16(p)) / 32768.0f;
    case 24: {
      int32_t v = static_cast<int32_t>(static_cast<uint32_t>(p[0]) << 8 | static_cast<uint32_t>(p[1]) << 16 |
                                       static_cast<uint32_t>(p[2]) << 24) >> 8;  // sign-extends
      return static_cast<float>(v / 8388608.0);
    }
    default: return static_cast<float>(static_cast<int32_t>(le32(p)) / 2147483648.0);
  }
}

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open WAV file", path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void put16(std::string& s, uint16_t v) { s += static_cast<char>(v & 0xff), s += static_cast<char>(v >> 8); }
void put32(std::string& s, uint32_t v) { put16(s, v & 0xffff), put16(s, static_cast<uint16_t>(v >> 16)); }

}  // namespace

std::vector<float> WavAudio::mono() const {
  if (channels <= 1) return samples;
  const int64_t n = frames();
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    float sum = 0;
    for (int c = 0; c < channels; ++c) sum += samples[static_cast<size_t>(i * channels + c)];
    out[static_cast<size_t>(i)] = sum / static_cast<float>(channels);
  }
  return out;
}

WavAudio read_wav(const std::string& path) {
  const auto bytes = read_all(path);
  const uint8_t* p = bytes.data();
  if (bytes.size() < 12 || std::memcmp(p, "RIFF", 4) != 0 || std::memcmp(p + 8, "WAVE", 4) != 0)
    fail("{}: not a RIFF/WAVE file", path);
  Format fmt;
  bool have_fmt = false;
  size_t pos = 12;
  while (pos + 8 <= bytes.size()) {
    const uint32_t size = le32(p + pos + 4);
    const size_t body = pos + 8;
    const size_t avail = bytes.size() - body;
    if (std::memcmp(p + pos, "fmt ", 4) == 0) {
      if (size > avail) fail("{}: truncated WAV 'fmt ' chunk", path);
      fmt = parse_format(p + body, size, path);
      have_fmt = true;
    } else if (std::memcmp(p + pos, "data", 4) == 0) {
      if (!have_fmt) fail("{}: WAV 'data' chunk before 'fmt '", path);
      if (size > avail) fail("{}: truncated WAV data ({} of {} bytes)", path, avail, size);
      if (size % static_cast<uint32_t>(fmt.block_align) != 0)
        fail("{}: WAV data size {} is not a whole number of {}-byte frames", path, size, fmt.block_align);
      WavAudio audio;
      audio.sample_rate = fmt.sample_rate;
      audio.channels = fmt.channels;
      const size_t width = static_cast<size_t>(fmt.bits / 8), n = size / width;
      audio.samples.resize(n);
      for (size_t i = 0; i < n; ++i) audio.samples[i] = decode_sample(p + body + i * width, fmt);
      return audio;
    }
    pos = body + size + (size & 1);  // chunks are padded to an even size
  }
  fail("{}: WAV file without {} chunk", path, have_fmt ? "a 'data'" : "a 'fmt '");
}

std::vector<int16_t> to_pcm16(const std::vector<float>& samples) {
  std::vector<int16_t> out(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    // Scaled by 32767 (as libsndfile writes floats) so that +1 does not wrap; NaN becomes 0.
    const float x = samples[i];
    const float c = std::isnan(x) ? 0.0f : std::clamp(x, -1.0f, 1.0f);
    out[i] = static_cast<int16_t>(std::lrint(c * 32767.0f));
  }
  return out;
}

std::string encode_wav(const std::vector<int16_t>& samples, int sample_rate, const std::string& name) {
  if (sample_rate <= 0) fail("write_wav {}: sample rate must be positive (got {})", name, sample_rate);
  const uint64_t data_bytes = samples.size() * 2;
  if (data_bytes > 0xFFFFFFFFull - 36) fail("write_wav {}: too many samples for a WAV file", name);
  std::string out;
  out.reserve(44 + data_bytes);
  out += "RIFF";
  put32(out, static_cast<uint32_t>(36 + data_bytes));
  out += "WAVEfmt ";
  put32(out, 16);
  put16(out, kFormatPcm);
  put16(out, 1);
  put32(out, static_cast<uint32_t>(sample_rate));
  put32(out, static_cast<uint32_t>(sample_rate) * 2);
  put16(out, 2);
  put16(out, 16);
  out += "data";
  put32(out, static_cast<uint32_t>(data_bytes));
  for (int16_t v : samples) put16(out, static_cast<uint16_t>(v));
  return out;
}

void write_wav(const std::string& path, const std::vector<float>& samples, int sample_rate) {
  write_file_atomically(path, encode_wav(to_pcm16(samples), sample_rate, path));
}

}  // namespace crmt
