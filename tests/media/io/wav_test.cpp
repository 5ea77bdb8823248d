#include "crmt/media/io/wav.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>

#include "crmt/core/error.h"
#include "test_util.h"

namespace crmt {
namespace {

void put16(std::string& s, uint16_t v) { s += static_cast<char>(v & 0xff), s += static_cast<char>(v >> 8); }
void put32(std::string& s, uint32_t v) { put16(s, v & 0xffff), put16(s, static_cast<uint16_t>(v >> 16)); }

// A RIFF/WAVE file with the given fmt fields and raw data bytes (plus an unrelated LIST chunk first).
std::string wav_bytes(uint16_t tag, int channels, int rate, int bits, const std::string& data,
                      uint32_t declared_data = 0xFFFFFFFF) {
  std::string fmt;
  put16(fmt, tag);
  put16(fmt, static_cast<uint16_t>(channels));
  put32(fmt, static_cast<uint32_t>(rate));
  put32(fmt, static_cast<uint32_t>(rate * channels * bits / 8));
  put16(fmt, static_cast<uint16_t>(channels * bits / 8));
  put16(fmt, static_cast<uint16_t>(bits));
  std::string body = "WAVE";
  body += "LIST";
  put32(body, 3);
  body += std::string("abc\0", 4);  // odd size: padded
  body += "fmt ";
  put32(body, static_cast<uint32_t>(fmt.size()));
  body += fmt + "data";
  put32(body, declared_data == 0xFFFFFFFF ? static_cast<uint32_t>(data.size()) : declared_data);
  body += data;
  std::string out = "RIFF";
  put32(out, static_cast<uint32_t>(body.size()));
  return out + body;
}

using test::write_file;

TEST(Wav, RoundTrips16BitWithinOneStep) {
  auto dir = test::temp_dir("wav_roundtrip");
  std::vector<float> x(1000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.8f * std::sin(0.05f * static_cast<float>(i));
  x[10] = 1.7f;  // clipped
  x[11] = -1.0f;
  const auto path = (dir / "a.wav").string();
  write_wav(path, x, 22050);
  auto w = read_wav(path);
  EXPECT_EQ(w.sample_rate, 22050);
  EXPECT_EQ(w.channels, 1);
  ASSERT_EQ(w.frames(), 1000);
  for (size_t i = 0; i < x.size(); ++i) {
    float expected = std::clamp(x[i], -1.0f, 1.0f);
    ASSERT_NEAR(w.samples[i], expected, 2.0 / 32768) << i;  // written x32767, read /32768
  }
}

TEST(Wav, StereoIsMixedToMono) {
  auto dir = test::temp_dir("wav_stereo");
  std::string data;
  for (int16_t v : {16384, -16384, 8192, 8192, -32768, 0}) put16(data, static_cast<uint16_t>(v));
  auto w = read_wav(write_file(dir / "s.wav", wav_bytes(1, 2, 8000, 16, data)));
  EXPECT_EQ(w.channels, 2);
  EXPECT_EQ(w.frames(), 3);
  auto m = w.mono();
  ASSERT_EQ(m.size(), 3u);
  EXPECT_FLOAT_EQ(m[0], 0.0f);
  EXPECT_FLOAT_EQ(m[1], 0.25f);
  EXPECT_FLOAT_EQ(m[2], -0.5f);
}

TEST(Wav, Reads24BitFloatAnd8BitAndExtensible) {
  auto dir = test::temp_dir("wav_formats");
  // 24-bit: 0x400000 = +0.5, 0xC00000 = -0.5, 0x7FFFFF ~ +1, 0x800000 = -1.
  auto w24 = read_wav(write_file(dir / "24.wav", wav_bytes(1, 1, 16000, 24,
                                                           std::string("\x00\x00\x40\x00\x00\xC0\xFF\xFF\x7F\x00\x00\x80", 12))));
  ASSERT_EQ(w24.samples.size(), 4u);
  EXPECT_FLOAT_EQ(w24.samples[0], 0.5f);
  EXPECT_FLOAT_EQ(w24.samples[1], -0.5f);
  EXPECT_NEAR(w24.samples[2], 1.0f, 1e-6);
  EXPECT_FLOAT_EQ(w24.samples[3], -1.0f);

  std::string fdata;
  for (float v : {0.25f, -0.75f}) {
    char b[4];
    std::memcpy(b, &v, 4);
    fdata.append(b, 4);
  }
  auto wf = read_wav(write_file(dir / "f.wav", wav_bytes(3, 1, 44100, 32, fdata)));
  ASSERT_EQ(wf.samples.size(), 2u);
  EXPECT_EQ(wf.sample_rate, 44100);
  EXPECT_FLOAT_EQ(wf.samples[1], -0.75f);

  auto w8 = read_wav(write_file(dir / "8.wav", wav_bytes(1, 1, 8000, 8, std::string("\x80\xC0\x00", 3) + '\0')));
  ASSERT_EQ(w8.samples.size(), 4u);
  EXPECT_FLOAT_EQ(w8.samples[0], 0.0f);
  EXPECT_FLOAT_EQ(w8.samples[1], 0.5f);
  EXPECT_FLOAT_EQ(w8.samples[2], -1.0f);

  // WAVE_FORMAT_EXTENSIBLE wrapping 16-bit PCM (sub-format GUID starts with 0x0001).
  std::string fmt;
  put16(fmt, 0xFFFE), put16(fmt, 1), put32(fmt, 16000), put32(fmt, 32000), put16(fmt, 2), put16(fmt, 16);
  put16(fmt, 22), put16(fmt, 16), put32(fmt, 4);
  fmt += std::string("\x01\x00\x00\x00\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71", 16);
  std::string body = "WAVEfmt ";
  put32(body, static_cast<uint32_t>(fmt.size()));
  body += fmt + "data";
  put32(body, 2);
  put16(body, 0xC000);  // -16384
  std::string ext = "RIFF";
  put32(ext, static_cast<uint32_t>(body.size()));
  auto we = read_wav(write_file(dir / "ext.wav", ext + body));
  ASSERT_EQ(we.samples.size(), 1u);
  EXPECT_FLOAT_EQ(we.samples[0], -0.5f);
}

TEST(Wav, RejectsBadFilesNamingThePath) {
  auto dir = test::temp_dir("wav_errors");
  std::string data(100, '\0');
  auto full = wav_bytes(1, 1, 16000, 16, data);
  const auto truncated = write_file(dir / "t.wav", full.substr(0, full.size() - 10));
  const auto not_wav = write_file(dir / "n.wav", "ID3\x03 this is an mp3");
  const auto alaw = write_file(dir / "a.wav", wav_bytes(6, 1, 8000, 8, data));
  const auto missing = (dir / "missing.wav").string();
  auto expect_error = [](const std::string& path, const std::string& word) {
    auto msg = test::error_of([&] { read_wav(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(word), std::string::npos) << msg;
  };
  expect_error(truncated, "truncated");
  expect_error(not_wav, "RIFF");
  expect_error(alaw, "unsupported");
  expect_error(missing, "cannot open");
}

}  // namespace
}  // namespace crmt
