#include "crmt/data/fixtures/make_fixture.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crmt/data/npy_tensor.h"
#include "crmt/media/io/jpeg.h"
#include "crmt/media/io/npy.h"
#include "crmt/media/io/wav.h"
#include "test_util.h"

namespace crmt {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

FixtureSummary make(const std::string& dataset, const fs::path& dir, int64_t clips, uint64_t seed = 0) {
  FixtureOptions o;
  o.dataset = dataset;
  o.out_dir = dir.string();
  o.clips = clips;
  o.seed = seed;
  return make_fixture(o);
}

// Lines of a text file without their line ends; `crlf` says whether every line ended in "\r\n".
std::vector<std::string> lines_of(const std::string& text, bool* crlf = nullptr) {
  std::vector<std::string> out;
  bool all_crlf = true;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    EXPECT_NE(nl, std::string::npos) << "last line without a line end";
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.pop_back(); else all_crlf = false;
    out.push_back(line);
    start = nl + 1;
  }
  if (crlf) *crlf = all_crlf && !out.empty();
  return out;
}

std::vector<std::string> fields_of(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep)) out.push_back(item);
  return out;
}

// Fields of one csv row, "..." quoting as Python's csv module reads it.
std::vector<std::string> csv_fields(const std::string& row) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < row.size(); ++i) {
    char c = row[i];
    if (quoted) {
      if (c == '"' && i + 1 < row.size() && row[i + 1] == '"') out.back() += '"', ++i;
      else if (c == '"') quoted = false;
      else out.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

using test::tree_of;

int count_files(const fs::path& dir) {
  int n = 0;
  for (const auto& f : fs::directory_iterator(dir)) n += f.is_regular_file();
  return n;
}

void expect_jpeg(const fs::path& path, int width, int height, JpegColor color) {
  auto image = read_jpeg(path.string(), color);
  EXPECT_EQ(image.width, width) << path;
  EXPECT_EQ(image.height, height) << path;
  EXPECT_EQ(image.channels, color == JpegColor::Rgb ? 3 : 1) << path;
}

// A 1-channel decode of a file written as 1 channel must not need a conversion: check the file itself.
int jpeg_components(const fs::path& path) {
  // SOF0/SOF2 marker: FF C0|C2, length(2), precision(1), height(2), width(2), components(1).
  auto bytes = test::read_file(path);
  for (size_t i = 0; i + 9 < bytes.size(); ++i)
    if (static_cast<uint8_t>(bytes[i]) == 0xFF && (static_cast<uint8_t>(bytes[i + 1]) == 0xC0 || static_cast<uint8_t>(bytes[i + 1]) == 0xC2))
      return static_cast<uint8_t>(bytes[i + 9]);
  return -1;
}

// Bits per sample of a RIFF/WAVE file's "fmt " chunk (-1 when there is none).
int wav_bits(const fs::path& path) {
  auto b = test::read_file(path);
  auto u32 = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(b[i]) | static_cast<uint8_t>(b[i + 1]) << 8 |
                                                          static_cast<uint8_t>(b[i + 2]) << 16 | static_cast<uint32_t>(static_cast<uint8_t>(b[i + 3])) << 24); };
  for (size_t i = 12; i + 8 <= b.size(); i += 8 + ((u32(i + 4) + 1) & ~1u))
    if (b.compare(i, 4, "fmt ") == 0 && i + 24 <= b.size())
      return static_cast<uint8_t>(b[i + 22]) | static_cast<uint8_t>(b[i + 23]) << 8;
  return -1;
}

void expect_wav(const fs::path& path, int rate, int64_t frames) {
  auto wav = read_wav(path.string());
  EXPECT_EQ(wav.sample_rate, rate) << path;
  EXPECT_EQ(wav.channels, 1) << path;
  EXPECT_EQ(wav.frames(), frames) << path;
  EXPECT_EQ(wav_bits(path), 16) << path;
}

json manifest(const fs::path& dir) { return json::parse(test::read_file(dir / "fixture.json")); }

// The speech is where fixture.json says: much louder there than elsewhere.
void expect_speech_where_planned(const fs::path& wav_path, const json& clip) {
  auto wav = read_wav(wav_path.string());
  int64_t start = clip["speech"]["start"], n = clip["speech"]["samples"];
  ASSERT_GT(n, 1000) << wav_path;
  double in = 0, out = 0;
  int64_t n_out = 0;
  for (int64_t i = 0; i < wav.frames(); ++i) {
    double v = wav.samples[i] * wav.samples[i];
    if (i >= start && i < start + n) in += v; else out += v, ++n_out;
  }
  double rms_in = std::sqrt(in / n), rms_out = n_out ? std::sqrt(out / n_out) : 0;
  EXPECT_GT(rms_in, 0.03) << wav_path;
  EXPECT_LT(rms_out, 0.01) << wav_path;
}

TEST(MakeFixture, KineticsSoundsHasTheCrmtLayout) {
  auto dir = test::temp_dir("fixture_ks");
  auto summary = make("kinetics_sounds", dir, 3);
  EXPECT_EQ(summary.classes, 2);  // max(2, clips / 2)
  const std::regex train_name("[A-Za-z0-9_-]{11}_[0-9]{6}_[0-9]{6}"), test_name("[A-Za-z0-9_-]{11}");
  std::map<std::string, std::set<int>> labels;
  for (std::string part : {"train", "test"}) {
    auto rows = lines_of(test::read_file(dir / ("ks_" + part + "_overlap.txt")));
    ASSERT_EQ(rows.size(), 3u) << part;
    for (const auto& row : rows) {
      auto f = fields_of(row, ' ');
      ASSERT_EQ(f.size(), 2u) << row;
      const auto& name = f[0];
      EXPECT_TRUE(std::regex_match(name, part == "train" ? train_name : test_name)) << name;
      int label = std::stoi(f[1]);
      EXPECT_GE(label, 0);
      EXPECT_LT(label, 31);
      labels[part].insert(label);
      auto npy = dir / (part + "_spec") / (name + ".npy");
      auto header = read_npy_header(npy.string());
      EXPECT_EQ(header.descr, "<f4") << npy;
      EXPECT_EQ(header.shape, (std::vector<int64_t>{1024, 128})) << npy;
      auto spec = read_npy(npy.string());
      EXPECT_EQ(spec.scalar_type(), at::kFloat);
      EXPECT_TRUE(spec.isfinite().all().item<bool>()) << npy;
      // Rows past the 998 frames of 10 s are the padding, (0 + 4.503877) / 10.282552.
      EXPECT_NEAR(spec[1023][0].item<float>(), 4.503877f / 10.282552f, 1e-4) << npy;
      auto frames = dir / (part == "train" ? "train-frames-1fps/train" : "val-frames-1fps/test") / name;
      EXPECT_EQ(count_files(frames), 10) << frames;
      for (int t = 1; t <= 10; ++t) {
        auto jpg = frames / fmt::format("frame_{:05d}.jpg", t);
        ASSERT_TRUE(fs::exists(jpg)) << jpg;
        if (t == 1 || t == 10) expect_jpeg(jpg, 340, 256, JpegColor::Rgb);
      }
    }
  }
  EXPECT_EQ(labels["train"], labels["test"]);
  EXPECT_EQ(labels["train"], (std::set<int>{0, 1}));
  auto classes = lines_of(test::read_file(dir / "classes.txt"));
  ASSERT_EQ(classes.size(), 31u);
  EXPECT_EQ(classes[0], "blowing_nose");
  EXPECT_EQ(classes[8], "playing_bagpipes");
  EXPECT_EQ(classes[30], "tickling");
  EXPECT_EQ(manifest(dir)["spoken"][1], "blowing out candles");
}

TEST(MakeFixture, VggSoundHasTheOgmGeLayout) {
  auto dir = test::temp_dir("fixture_vgg");
  EXPECT_EQ(make("vggsound", dir, 4).classes, 2);
  auto rows = lines_of(test::read_file(dir / "vggsound.csv"));
  ASSERT_EQ(rows.size(), 8u);
  std::map<std::string, std::vector<std::string>> classes;  // split -> labels in order of appearance
  bool quoted_comma = false;
  for (const auto& row : rows) {
    auto f = csv_fields(row);
    ASSERT_EQ(f.size(), 4u) << row;
    EXPECT_TRUE(std::regex_match(f[0], std::regex("[A-Za-z0-9_-]{11}"))) << row;
    EXPECT_TRUE(std::regex_match(f[1], std::regex("[0-9]+"))) << row;
    ASSERT_TRUE(f[3] == "train" || f[3] == "test") << row;
    if (f[2].find(',') != std::string::npos) {
      quoted_comma = true;
      EXPECT_NE(row.find("\"" + f[2] + "\""), std::string::npos) << row;
    }
    auto& seen = classes[f[3]];
    if (std::find(seen.begin(), seen.end(), f[2]) == seen.end()) seen.push_back(f[2]);
    const auto key = f[0] + "_" + f[1];
    const bool train = f[3] == "train";
    auto frames = dir / (train ? "train-videos/train-set-img/Image-01-FPS" : "test-videos/test-set-img/Image-01-FPS") /
                  (key + ".mp4");
    ASSERT_TRUE(fs::is_directory(frames)) << frames;
    EXPECT_EQ(count_files(frames), 10) << frames;
    for (int s = 0; s < 10; ++s) ASSERT_TRUE(fs::exists(frames / fmt::format("{:05d}.jpg", 25 * s))) << frames << " " << s;
    expect_jpeg(frames / "00225.jpg", 320, 240, JpegColor::Rgb);
    expect_wav(dir / (train ? "train-audios/train-set" : "test-audios/test-set") / (key + ".wav"), 16000, 160000);
  }
  EXPECT_TRUE(quoted_comma);
  EXPECT_EQ(classes["train"], classes["test"]);
  EXPECT_EQ(classes["train"], (std::vector<std::string>{"female speech, woman speaking", "female singing"}));
  auto m = manifest(dir);
  const auto& first = m["clips"][0];
  expect_speech_where_planned(dir / "train-audios/train-set" / (first["name"].get<std::string>() + ".wav"), first);
}

TEST(MakeFixture, Ucf101HasTheSplitFilesFramesAndTrueFlow) {
  auto dir = test::temp_dir("fixture_ucf");
  EXPECT_EQ(make("ucf101", dir, 6).classes, 3);
  bool crlf = false;
  auto class_ind = lines_of(test::read_file(dir / "ucfTrainTestlist/classInd.txt"), &crlf);
  EXPECT_TRUE(crlf);
  EXPECT_EQ(class_ind, (std::vector<std::string>{"1 ApplyEyeMakeup", "2 ApplyLipstick", "3 Archery"}));
  const std::vector<std::string> names{"ApplyEyeMakeup", "ApplyLipstick", "Archery"};
  auto train = lines_of(test::read_file(dir / "ucfTrainTestlist/trainlist01.txt"), &crlf);
  EXPECT_TRUE(crlf);
  auto test_rows = lines_of(test::read_file(dir / "ucfTrainTestlist/testlist01.txt"), &crlf);
  EXPECT_TRUE(crlf);
  ASSERT_EQ(train.size(), 6u);
  ASSERT_EQ(test_rows.size(), 6u);
  const std::regex video("([A-Za-z]+)/(v_([A-Za-z]+)_g([0-9]{2})_c([0-9]{2}))\\.avi");
  std::map<std::string, std::set<std::string>> classes;
  std::vector<std::string> videos;
  for (bool is_train : {true, false}) {
    for (const auto& row : is_train ? train : test_rows) {
      auto f = fields_of(row, ' ');
      ASSERT_EQ(f.size(), is_train ? 2u : 1u) << row;
      std::smatch m;
      ASSERT_TRUE(std::regex_match(f[0], m, video)) << row;
      EXPECT_EQ(m[1].str(), m[3].str()) << row;
      int group = std::stoi(m[4].str());
      if (is_train) {
        EXPECT_TRUE(group >= 8 && group <= 25) << row;
        int label = std::stoi(f[1]);
        ASSERT_TRUE(label >= 1 && label <= 3) << row;
        EXPECT_EQ(names[label - 1], m[1].str()) << row;
      } else {
        EXPECT_TRUE(group >= 1 && group <= 7) << row;
      }
      classes[is_train ? "train" : "test"].insert(m[1].str());
      videos.push_back(m[2].str());
    }
  }
  EXPECT_EQ(classes["train"], classes["test"]);
  EXPECT_EQ(classes["train"].size(), 3u);
  for (const auto& v : videos) {
    EXPECT_EQ(count_files(dir / "rgb" / v), 8) << v;
    EXPECT_EQ(count_files(dir / "flow/u" / v), 7) << v;
    EXPECT_EQ(count_files(dir / "flow/v" / v), 7) << v;
    expect_jpeg(dir / "rgb" / v / "frame_00008.jpg", 320, 240, JpegColor::Rgb);
    for (const char* c : {"u", "v"}) {
      auto flow = dir / "flow" / c / v / "frame000007.jpg";
      expect_jpeg(flow, 320, 240, JpegColor::Gray);
      EXPECT_EQ(jpeg_components(flow), 1) << flow;
    }
  }
  // The flow fields encode the motion that the RGB frames show.
  auto q = [](int shift) {  // np.round: halves to even
    double x = (shift + 15) * 255.0 / 30.0;
    double r = std::nearbyint(x);
    return static_cast<int>(std::clamp(r, 0.0, 255.0));
  };
  EXPECT_EQ(q(0), 128);
  EXPECT_EQ(q(2), 144);  // 144.5 rounds to even
  EXPECT_EQ(q(3), 153);
  auto m = manifest(dir);
  ASSERT_EQ(m["clips"].size(), 12u);
  for (const auto& clip : m["clips"]) {
    const std::string name = clip["name"];
    const auto& p = clip["patch"];
    const int size = p["size"], x0 = p["x0"], y0 = p["y0"], dx = p["dx"], dy = p["dy"];
    EXPECT_NE(dx, 0) << name;
    for (int k : {0, 3, 6}) {
      auto u = read_jpeg((dir / "flow/u" / name / fmt::format("frame{:06d}.jpg", k + 1)).string(), JpegColor::Gray);
      auto v = read_jpeg((dir / "flow/v" / name / fmt::format("frame{:06d}.jpg", k + 1)).string(), JpegColor::Gray);
      const int cx = x0 + k * dx + size / 2, cy = y0 + k * dy + size / 2;
      EXPECT_NEAR(u.row(cy)[cx], q(dx), 2) << name << " field " << k + 1;
      EXPECT_NEAR(v.row(cy)[cx], q(dy), 2) << name << " field " << k + 1;
      // A background pixel: outside the patch in this field.
      const int bx = (x0 + k * dx > 20) ? 5 : 314, by = 5;
      EXPECT_NEAR(u.row(by)[bx], 128, 2) << name;
      EXPECT_NEAR(v.row(by)[bx], 128, 2) << name;
      // The RGB frame k + 1 has the patch there: its top-left corner is the black of the Fashion-MNIST image.
      auto rgb = read_jpeg((dir / "rgb" / name / fmt::format("frame_{:05d}.jpg", k + 1)).string(), JpegColor::Rgb);
      const uint8_t* px = rgb.row(y0 + k * dy + 6) + 3 * (x0 + k * dx + 6);
      EXPECT_LT(px[0] + px[1] + px[2], 3 * 40) << name << " frame " << k + 1;
      const uint8_t* bg = rgb.row(by) + 3 * bx;
      EXPECT_GT(bg[0] + bg[1] + bg[2], 3 * 50) << name << " frame " << k + 1;
    }
  }
}

TEST(MakeFixture, CremadHasTheOgmGeLayout) {
  auto dir = test::temp_dir("fixture_cremad");
  EXPECT_EQ(make("cremad", dir, 3).classes, 2);
  const std::regex file_name("(10[0-9][0-9])_[A-Z]{3}_(NEU|HAP|SAD|FEA|DIS|ANG)_(XX|LO|MD|HI)");
  std::map<std::string, std::set<std::string>> emotions;
  for (std::string part : {"train", "test"}) {
    auto text = test::read_file(dir / (part + ".csv"));
    ASSERT_EQ(text.substr(0, 3), "\xEF\xBB\xBF") << part;
    bool crlf = false;
    auto rows = lines_of(text.substr(3), &crlf);
    EXPECT_TRUE(crlf) << part;
    ASSERT_EQ(rows.size(), 3u);
    for (const auto& row : rows) {
      auto f = fields_of(row, ',');
      ASSERT_EQ(f.size(), 2u) << row;
      std::smatch m;
      ASSERT_TRUE(std::regex_match(f[0], m, file_name)) << row;
      int actor = std::stoi(m[1].str());
      EXPECT_TRUE(actor >= 1001 && actor <= 1091) << row;
      EXPECT_EQ(m[2].str(), f[1]) << row;
      emotions[part].insert(f[1]);
      expect_wav(dir / "AudioWAV" / (f[0] + ".wav"), 16000, 40000);
      auto frames = dir / "Image-01-FPS" / f[0];
      EXPECT_EQ(count_files(frames), 3) << frames;
      for (const char* jpg : {"00000.jpg", "00030.jpg", "00060.jpg"}) expect_jpeg(frames / jpg, 240, 180, JpegColor::Rgb);
    }
  }
  EXPECT_EQ(emotions["train"], emotions["test"]);
  EXPECT_EQ(emotions["train"], (std::set<std::string>{"NEU", "HAP"}));
  auto m = manifest(dir);
  EXPECT_EQ(m["spoken"], (json{"neutral", "happy"}));
  for (const auto& clip : m["clips"])
    expect_speech_where_planned(dir / "AudioWAV" / (clip["name"].get<std::string>() + ".wav"), clip);
}

TEST(MakeFixture, SameSeedGivesTheSameBytesAnotherSeedOthers) {
  auto root = test::temp_dir("fixture_seed");
  make("cremad", root / "a", 2, 7);
  make("cremad", root / "b", 2, 7);
  make("cremad", root / "c", 2, 8);
  auto a = tree_of(root / "a"), b = tree_of(root / "b"), c = tree_of(root / "c");
  ASSERT_FALSE(a.empty());
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a == c);
  // Another seed changes the content, not only the names.
  EXPECT_NE(a.at("fixture.json"), c.at("fixture.json"));
  std::set<std::string> a_audio, c_audio;
  for (const auto& [path, bytes] : a) if (path.rfind("AudioWAV/", 0) == 0) a_audio.insert(bytes);
  for (const auto& [path, bytes] : c) if (path.rfind("AudioWAV/", 0) == 0) c_audio.insert(bytes);
  EXPECT_EQ(a_audio.size(), 4u);
  for (const auto& bytes : a_audio) EXPECT_EQ(c_audio.count(bytes), 0u);
}

TEST(MakeFixture, RefusesUnknownDatasetsBadCountsAndNonEmptyFolders) {
  auto root = test::temp_dir("fixture_errors");
  auto unknown = test::error_of([&] { make("kinetics", root / "x", 2); });
  EXPECT_NE(unknown.find("'kinetics'"), std::string::npos) << unknown;
  for (const auto& name : fixture_datasets()) EXPECT_NE(unknown.find(name), std::string::npos) << unknown;
  EXPECT_FALSE(fs::exists(root / "x"));
  for (int64_t clips : {0, 1, 1001})
    EXPECT_NE(test::error_of([&] { make("cremad", root / "x", clips); }).find("--clips"), std::string::npos) << clips;

  fs::create_directories(root / "full");
  std::ofstream(root / "full" / "keep.txt") << "mine";
  auto busy = test::error_of([&] { make("cremad", root / "full", 2); });
  EXPECT_NE(busy.find("not empty"), std::string::npos) << busy;
  EXPECT_EQ(test::read_file(root / "full" / "keep.txt"), "mine");

  FixtureOptions o;
  o.dataset = "cremad";
  o.out_dir = (root / "full").string();
  o.clips = 2;
  o.force = true;
  EXPECT_EQ(test::error_of([&] { make_fixture(o); }), "");
  EXPECT_FALSE(fs::exists(root / "full" / "keep.txt"));
  EXPECT_TRUE(fs::exists(root / "full" / "train.csv"));

  o.fashion_mnist_dir = (root / "nowhere").string();
  o.out_dir = (root / "y").string();
  auto missing = test::error_of([&] { make_fixture(o); });
  EXPECT_NE(missing.find("nowhere"), std::string::npos) << missing;
}

TEST(MakeFixture, CommandLineWritesAFixtureAndRejectsAnUnknownDataset) {
  auto root = test::temp_dir("fixture_cli");
  auto ok = test::run_cli("data make-fixture cremad --out " + (root / "c").string() + " --clips 2 --seed 3");
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find((root / "c").string()), std::string::npos) << ok.output;
  EXPECT_TRUE(fs::exists(root / "c" / "test.csv"));
  auto again = test::run_cli("data make-fixture cremad --out " + (root / "c").string() + " --clips 2");
  EXPECT_EQ(again.exit_code, 1) << again.output;
  EXPECT_NE(again.output.find("--force"), std::string::npos) << again.output;
  auto bad = test::run_cli("data make-fixture audioset --out " + (root / "d").string());
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("kinetics_sounds, vggsound, ucf101, cremad"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace crmt
