#include "crmt/data/embedded_dataset.h"

#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <unistd.h>

#include "crmt/core/error.h"
#include "crmt/core/progress.h"
#include "crmt/data/idx_reader.h"
#include "crmt/data/log_mel.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace crmt {

namespace {

constexpr const char* kFormat = "crmt-embedded";
constexpr int kSpeechFactor = 2;  // 22050 Hz -> 11025 Hz
constexpr int64_t kChunk = 1024;  // samples generated per batch
constexpr int kNoiseTracks = 256;
constexpr double kNoiseTrackSeconds = 3.0;

LogMelOptions embedded_log_mel() { return LogMelOptions{}; }  // 11025 Hz, n_fft 512, hop 352, 32 mels

int64_t clip_samples() {
  auto lm = embedded_log_mel();
  return lm.hop_length * 31;  // 32 frames
}

std::string join_path(const std::string& dir, const std::string& name) { return (fs::path(dir) / name).string(); }

json recipe_json(const EmbeddedRecipe& r) {
  return json{{"train_utterances_per_class", r.train_utterances_per_class},
              {"test_utterances_per_class", r.test_utterances_per_class},
              {"rate", {r.min_rate, r.max_rate}},
              {"pitch", {r.min_pitch, r.max_pitch}},
              {"snr_db", {r.min_snr_db, r.max_snr_db}},
              {"max_noise_color", r.max_noise_color},
              {"gain_db", r.gain_db},
              {"visual_noise_std", r.visual_noise_std},
              {"visual_occlusion", r.visual_occlusion}};
}

void check_recipe(const EmbeddedRecipe& r) {
  if (r.train_utterances_per_class < 1 || r.test_utterances_per_class < 1)
    fail("embedded recipe: need at least one utterance per class (got {} train, {} test)",
         r.train_utterances_per_class, r.test_utterances_per_class);
  if (r.min_rate > r.max_rate || r.min_pitch > r.max_pitch || r.min_snr_db > r.max_snr_db)
    fail("embedded recipe: rate, pitch and SNR ranges must have min <= max");
  if (r.visual_occlusion < 0 || r.visual_occlusion > 28)
    fail("embedded recipe: visual_occlusion must be in [0, 28], got {}", r.visual_occlusion);
}

uint64_t mix_seed(uint64_t seed, uint64_t stream) {
  // splitmix64 of seed and stream, so that every random stream of every split is independent.
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// ---------------------------------------------------------------------------------------------
// Raw array files.

struct ArrayFile {
  std::string name;   // file name inside the cache directory
  std::string split;  // train / test
  std::string role;   // visual / audio / labels
  std::string dtype;  // uint8 / float16 / int64
  std::vector<int64_t> shape;
  uint64_t bytes = 0;
  uint32_t crc = 0;
};

uint32_t crc_of(const void* data, uint64_t bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  auto p = static_cast<const Bytef*>(data);
  while (bytes > 0) {
    uInt n = static_cast<uInt>(std::min<uint64_t>(bytes, 1u << 30));
    crc = crc32(crc, p, n);
    p += n;
    bytes -= n;
  }
  return static_cast<uint32_t>(crc);
}

std::string temp_name(const std::string& path) { return path + ".tmp-" + std::to_string(::getpid()); }

// Writes `bytes` to `path` through a temporary file renamed into place.
void write_atomically(const std::string& path, const void* data, uint64_t bytes) {
  std::string tmp = temp_name(path);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("{}: cannot open for writing", tmp);
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
    out.flush();
    if (!out) fail("{}: write failed (disk full?)", tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) fail("{}: cannot rename {} into place: {}", path, tmp, ec.message());
}

ArrayFile save_array(const std::string& dir, const std::string& name, const std::string& split,
                     const std::string& role, const at::Tensor& t) {
  auto c = t.contiguous();
  ArrayFile f;
  f.name = name;
  f.split = split;
  f.role = role;
  f.dtype = c.scalar_type() == at::kByte ? "uint8" : c.scalar_type() == at::kHalf ? "float16" : "int64";
  f.shape = c.sizes().vec();
  f.bytes = static_cast<uint64_t>(c.numel()) * c.element_size();
  f.crc = crc_of(c.data_ptr(), f.bytes);
  write_atomically(join_path(dir, name), c.data_ptr(), f.bytes);
  return f;
}

json file_json(const ArrayFile& f) {
  return json{{"name", f.name}, {"split", f.split}, {"role", f.role}, {"dtype", f.dtype},
              {"shape", f.shape}, {"bytes", f.bytes}, {"crc32", f.crc}};
}

at::ScalarType dtype_of(const std::string& dtype, const std::string& where) {
  if (dtype == "uint8") return at::kByte;
  if (dtype == "float16") return at::kHalf;
  if (dtype == "int64") return at::kLong;
  fail("{}: unknown dtype '{}' (expected uint8, float16 or int64)", where, dtype);
}

const char* kPrepareHint = "run `crmt data prepare --force` to rebuild the cache";

at::Tensor load_array(const std::string& dir, const json& entry, const std::string& meta_path) {
  std::string name, dtype;
  std::vector<int64_t> shape;
  uint64_t bytes = 0;
  uint32_t crc = 0;
  try {
    name = entry.at("name").get<std::string>();
    dtype = entry.at("dtype").get<std::string>();
    shape = entry.at("shape").get<std::vector<int64_t>>();
    bytes = entry.at("bytes").get<uint64_t>();
    crc = entry.at("crc32").get<uint32_t>();
  } catch (const json::exception& e) {
    fail("{}: malformed entry in 'files' ({}); {}", meta_path, e.what(), kPrepareHint);
  }
  std::string path = join_path(dir, name);
  auto type = dtype_of(dtype, meta_path);
  auto t = torch::empty(shape, torch::TensorOptions().dtype(type));
  if (static_cast<uint64_t>(t.numel()) * t.element_size() != bytes)
    fail("{}: meta.json says {} bytes but shape [{}] of {} needs {}; {}", path, bytes, fmt::join(shape, ","), dtype,
         t.numel() * t.element_size(), kPrepareHint);
  std::error_code ec;
  if (!fs::exists(path, ec)) fail("{}: file of the embedded dataset is missing; {}", path, kPrepareHint);
  auto size = fs::file_size(path, ec);
  if (ec) fail("{}: cannot read the file size: {}", path, ec.message());
  if (size != bytes)
    fail("{}: file has {} bytes but {} were expected (truncated or overwritten); {}", path, size, bytes, kPrepareHint);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open for reading", path);
  in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(bytes));
  if (!in || static_cast<uint64_t>(in.gcount()) != bytes) fail("{}: read failed after {} bytes; {}", path, in.gcount(), kPrepareHint);
  if (crc_of(t.data_ptr(), bytes) != crc)
    fail("{}: checksum mismatch (the file is corrupt); {}", path, kPrepareHint);
  return t;
}

// ---------------------------------------------------------------------------------------------
// Generation.

struct Utterance {
  std::vector<float> samples;  // 11025 Hz, full scale +-1
  double power = 0;            // mean square over the (trimmed) utterance
};

std::vector<std::vector<Utterance>> synthesize_bank(EmbeddedSplit split, const EmbeddedRecipe& recipe, uint64_t seed) {
  const auto& classes = embedded_class_names();
  auto voices = embedded_voices(split, recipe, seed);
  const size_t per_class = voices.size() / classes.size();
  std::vector<SpeechRequest> requests;
  for (size_t i = 0; i < voices.size(); ++i) requests.push_back({classes[i / per_class], voices[i]});
  auto pcms = synthesize_speech(requests);  // one fresh eSpeak per bank: deterministic
  std::vector<std::vector<Utterance>> bank(classes.size());
  for (size_t i = 0; i < voices.size(); ++i) {
    auto pcm = trim_silence(pcms[i]);
    if (pcm.size() < 1000)
      fail("espeak-ng voice '{}': \"{}\" gave almost no audio ({} samples)", voices[i].describe(),
           requests[i].text, pcm.size());
    std::vector<float> f(pcm.size());
    for (size_t j = 0; j < pcm.size(); ++j) f[j] = static_cast<float>(pcm[j]) / 32768.0f;
    Utterance u;
    u.samples = decimate(f, kSpeechFactor);
    double sq = 0;
    for (float v : u.samples) sq += double(v) * v;
    u.power = sq / static_cast<double>(u.samples.size());
    bank[i / per_class].push_back(std::move(u));
  }
  return bank;
}

// Unit-RMS noise tracks whose power spectra fall as 1/f^beta, beta uniform in [0, max_color].
at::Tensor noise_bank(const EmbeddedRecipe& recipe, at::Generator& gen) {
  const int64_t len = static_cast<int64_t>(kNoiseTrackSeconds * embedded_log_mel().sample_rate);
  auto white = torch::randn({kNoiseTracks, len}, gen, torch::kFloat);
  auto beta = torch::rand({kNoiseTracks, 1}, gen, torch::kFloat) * recipe.max_noise_color;
  auto spec = torch::fft::rfft(white, c10::nullopt, -1);
  auto k = torch::arange(spec.size(-1), torch::kFloat).clamp_min(1.0).unsqueeze(0);
  auto shape = torch::pow(k, -beta / 2);  // amplitude ~ f^(-beta/2)
  shape.select(1, 0).zero_();             // no DC
  auto colored = torch::fft::irfft(spec * shape, len, -1);
  return colored / colored.pow(2).mean(-1, true).sqrt();
}

struct SplitData {
  at::Tensor visual;  // uint8 [N,1,28,28]
  at::Tensor audio;   // float16 [N,1,32,32]
  at::Tensor labels;  // int64 [N]
};

SplitData generate_split(EmbeddedSplit split, const at::Tensor& images, const at::Tensor& labels,
                         const std::vector<std::vector<Utterance>>& bank, const EmbeddedRecipe& recipe, uint64_t seed,
                         ProgressBar& bar, int64_t& done) {
  const uint64_t stream = split == EmbeddedSplit::Train ? 10 : 20;
  std::mt19937_64 rng(mix_seed(seed, stream));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(mix_seed(seed, stream + 1));
  auto noise = noise_bank(recipe, gen);
  const int64_t n = labels.size(0), L = clip_samples(), track_len = noise.size(1);
  const auto lm = embedded_log_mel();
  SplitData out;
  out.labels = labels.clone();
  out.visual = torch::empty({n, 1, 28, 28}, torch::kByte);
  out.audio = torch::empty({n, 1, lm.n_mels, log_mel_frames(L, lm)}, torch::kHalf);
  const float* noise_ptr = noise.data_ptr<float>();
  const int64_t* label_ptr = labels.data_ptr<int64_t>();
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  auto uniform_int = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };

  for (int64_t start = 0; start < n; start += kChunk) {
    const int64_t b = std::min(kChunk, n - start);
    // Audio: utterance of the same class at a random offset, coloured noise at a random SNR, gain.
    auto wave = torch::zeros({b, L}, torch::kFloat);
    float* w = wave.data_ptr<float>();
    for (int64_t i = 0; i < b; ++i) {
      const auto& utts = bank[static_cast<size_t>(label_ptr[start + i])];
      const auto& u = utts[static_cast<size_t>(uniform_int(0, static_cast<int64_t>(utts.size()) - 1))];
      const int64_t len = static_cast<int64_t>(u.samples.size());
      const int64_t offset = uniform_int(std::min<int64_t>(0, L - len), std::max<int64_t>(0, L - len));
      const double snr_db = recipe.min_snr_db + (recipe.max_snr_db - recipe.min_snr_db) * unit(rng);
      const double gain = std::pow(10.0, (2 * unit(rng) - 1) * recipe.gain_db / 20.0);
      const float* track = noise_ptr + uniform_int(0, kNoiseTracks - 1) * track_len + uniform_int(0, track_len - L);
      const float noise_scale = static_cast<float>(gain * std::sqrt(u.power / std::pow(10.0, snr_db / 10.0)));
      const float g = static_cast<float>(gain);
      float* row = w + i * L;
      for (int64_t t = 0; t < L; ++t) {
        int64_t j = t - offset;
        float s = (j >= 0 && j < len) ? u.samples[static_cast<size_t>(j)] : 0.0f;
        row[t] = g * s + noise_scale * track[t];
      }
    }
    auto mel = log_mel_spectrogram(wave, lm);  // [b, 32, 32]
    out.audio.narrow(0, start, b).copy_(mel.unsqueeze(1).to(torch::kHalf));

    // Visual: Fashion-MNIST image with Gaussian pixel noise and an occluding square.
    auto img = images.narrow(0, start, b).to(torch::kFloat).div(255.0);
    if (recipe.visual_noise_std > 0) img = img + torch::randn({b, 28, 28}, gen, torch::kFloat) * recipe.visual_noise_std;
    if (recipe.visual_occlusion > 0) {
      const int s = recipe.visual_occlusion;
      for (int64_t i = 0; i < b; ++i) {
        int64_t y = uniform_int(0, 28 - s), x = uniform_int(0, 28 - s);
        img[i].narrow(0, y, s).narrow(1, x, s).zero_();
      }
    }
    out.visual.narrow(0, start, b).copy_(img.clamp(0.0, 1.0).mul(255.0).round().to(torch::kByte).unsqueeze(1));
    done += b;
    bar.update(done);
  }
  return out;
}

struct Stats {
  double mean = 0, std = 1;
};

Stats stats_of(const at::Tensor& x, double scale) {
  auto d = x.to(torch::kDouble).mul(scale);
  Stats s;
  s.mean = d.mean().item<double>();
  s.std = d.std(/*unbiased=*/false).item<double>();
  if (!(s.std > 0)) s.std = 1;
  return s;
}

bool read_json(const std::string& path, json& out, std::string* why) {
  std::ifstream in(path);
  if (!in) {
    if (why) *why = "missing";
    return false;
  }
  try {
    out = json::parse(in);
  } catch (const json::exception& e) {
    if (why) *why = std::string("not valid JSON: ") + e.what();
    return false;
  }
  return true;
}

// Whether the cache in `dir` was made by these options and its files have the recorded sizes.
bool cache_matches(const EmbeddedPrepareOptions& opt, std::string& why) {
  json meta;
  if (!read_json(join_path(opt.dir, "meta.json"), meta, &why)) return false;
  try {
    if (meta.value("format", "") != kFormat) return why = "not an embedded-dataset cache", false;
    if (meta.at("version").get<int>() != kEmbeddedVersion) return why = "other version", false;
    if (meta.at("seed").get<uint64_t>() != opt.seed) return why = "other seed", false;
    if (meta.at("num_train").get<int64_t>() != opt.num_train || meta.at("num_test").get<int64_t>() != opt.num_test)
      return why = "other sizes", false;
    if (meta.at("recipe") != recipe_json(opt.recipe)) return why = "other recipe", false;
    for (const auto& f : meta.at("files")) {
      std::error_code ec;
      auto path = join_path(opt.dir, f.at("name").get<std::string>());
      if (!fs::exists(path, ec) || fs::file_size(path, ec) != f.at("bytes").get<uint64_t>())
        return why = path + " missing or of the wrong size", false;
    }
  } catch (const json::exception& e) {
    return why = std::string("malformed meta.json: ") + e.what(), false;
  }
  return true;
}

}  // namespace

const std::vector<std::string>& embedded_class_names() {
  static const std::vector<std::string> names{"t-shirt", "trouser", "pullover", "dress", "coat",
                                              "sandal",  "shirt",   "sneaker",  "bag",   "ankle boot"};
  return names;
}

std::vector<SpeechVoice> embedded_voices(EmbeddedSplit split, const EmbeddedRecipe& recipe, uint64_t seed) {
  check_recipe(recipe);
  const auto& variants = split == EmbeddedSplit::Train ? train_voice_variants() : test_voice_variants();
  const auto& languages = english_languages();
  const int per_class =
      split == EmbeddedSplit::Train ? recipe.train_utterances_per_class : recipe.test_utterances_per_class;
  std::mt19937_64 rng(mix_seed(seed, split == EmbeddedSplit::Train ? 1 : 2));
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  std::vector<SpeechVoice> voices;
  const size_t classes = embedded_class_names().size();
  for (size_t c = 0; c < classes; ++c) {
    for (int k = 0; k < per_class; ++k) {
      SpeechVoice v;
      // Cycle through the variants (offset per class) so each class hears every speaker.
      v.variant = variants[(c + static_cast<size_t>(k)) % variants.size()];
      v.language = languages[static_cast<size_t>(pick(0, static_cast<int64_t>(languages.size()) - 1))];
      v.rate = static_cast<int>(pick(recipe.min_rate, recipe.max_rate));
      v.pitch = static_cast<int>(pick(recipe.min_pitch, recipe.max_pitch));
      voices.push_back(v);
    }
  }
  return voices;
}

at::Tensor stratified_indices(const at::Tensor& labels, int64_t n, uint64_t seed) {
  const int64_t total = labels.size(0);
  if (n < 0 || n > total) fail("stratified subset: cannot take {} of {} samples", n, total);
  if (n == total) return torch::arange(total, torch::kLong);
  auto lab = labels.to(torch::kLong).contiguous();
  const int64_t* p = lab.data_ptr<int64_t>();
  std::map<int64_t, std::vector<int64_t>> by_class;
  for (int64_t i = 0; i < total; ++i) by_class[p[i]].push_back(i);
  // Largest-remainder quotas: floor(n * share), then one more for the largest remainders.
  std::vector<std::pair<int64_t, std::vector<int64_t>*>> classes;
  std::vector<int64_t> quota;
  std::vector<std::pair<double, size_t>> remainders;
  int64_t assigned = 0;
  for (auto& [c, idx] : by_class) {
    double exact = static_cast<double>(n) * static_cast<double>(idx.size()) / static_cast<double>(total);
    quota.push_back(static_cast<int64_t>(std::floor(exact)));
    assigned += quota.back();
    remainders.push_back({exact - std::floor(exact), classes.size()});
    classes.push_back({c, &idx});
  }
  std::stable_sort(remainders.begin(), remainders.end(), [](auto& a, auto& b) { return a.first > b.first; });
  for (size_t r = 0; assigned < n; ++r, ++assigned) quota[remainders[r % remainders.size()].second]++;
  std::mt19937_64 rng(mix_seed(seed, 99));
  std::vector<int64_t> chosen;
  for (size_t c = 0; c < classes.size(); ++c) {
    auto idx = *classes[c].second;
    std::shuffle(idx.begin(), idx.end(), rng);
    chosen.insert(chosen.end(), idx.begin(), idx.begin() + std::min<int64_t>(quota[c], idx.size()));
  }
  std::sort(chosen.begin(), chosen.end());
  return torch::tensor(chosen, torch::kLong);
}

bool prepare_embedded(const EmbeddedPrepareOptions& opt) {
  check_recipe(opt.recipe);
  if (opt.num_train < 1 || opt.num_train > kEmbeddedTrainSamples || opt.num_test < 1 ||
      opt.num_test > kEmbeddedTestSamples)
    fail("embedded dataset: sizes must be 1..{} train and 1..{} test, got {} and {}", kEmbeddedTrainSamples,
         kEmbeddedTestSamples, opt.num_train, opt.num_test);
  std::string why;
  if (!opt.force && cache_matches(opt, why)) return false;
  const auto t0 = std::chrono::steady_clock::now();

  // Read the sources first, so that a missing source leaves an existing cache alone.
  auto read_images = [&](const std::string& file, int64_t count) {
    auto path = join_path(opt.source_dir, file);
    auto a = read_idx(path, 3, count);
    if (a.shape[0] < count || a.shape[1] != 28 || a.shape[2] != 28)
      fail("{}: expected at least {} images of 28x28, found [{}, ...]", path, count, fmt::join(a.shape, ","));
    return torch::from_blob(a.data.data(), {count, 28, 28}, torch::kByte).clone();
  };
  auto read_labels = [&](const std::string& file, int64_t count) {
    auto path = join_path(opt.source_dir, file);
    auto a = read_idx(path, 1, count);
    if (a.shape[0] < count) fail("{}: expected at least {} labels, found {}", path, count, a.shape[0]);
    auto l = torch::from_blob(a.data.data(), {count}, torch::kByte).to(torch::kLong);
    if (l.max().item<int64_t>() >= static_cast<int64_t>(embedded_class_names().size()))
      fail("{}: label {} is not a Fashion-MNIST class (0-9)", path, l.max().item<int64_t>());
    return l;
  };
  auto train_images = read_images("train-images-idx3-ubyte.gz", opt.num_train);
  auto train_labels = read_labels("train-labels-idx1-ubyte.gz", opt.num_train);
  auto test_images = read_images("t10k-images-idx3-ubyte.gz", opt.num_test);
  auto test_labels = read_labels("t10k-labels-idx1-ubyte.gz", opt.num_test);

  std::error_code ec;
  fs::create_directories(opt.dir, ec);
  if (ec) fail("{}: cannot create the directory: {}", opt.dir, ec.message());
  const std::string meta_path = join_path(opt.dir, "meta.json");
  // From here on the old cache is invalid: remove its meta.json first.
  fs::remove(meta_path, ec);
  if (ec) fail("{}: cannot remove the old meta.json: {}", meta_path, ec.message());

  const auto& classes = embedded_class_names();
  const int64_t n_utt =
      static_cast<int64_t>(classes.size()) * (opt.recipe.train_utterances_per_class + opt.recipe.test_utterances_per_class);
  int64_t done = 0;
  std::vector<std::vector<Utterance>> train_bank, test_bank;
  {
    ProgressBar bar("embedded: speech", n_utt, opt.show_progress);
    train_bank = synthesize_bank(EmbeddedSplit::Train, opt.recipe, opt.seed);
    bar.update(static_cast<int64_t>(classes.size()) * opt.recipe.train_utterances_per_class);
    test_bank = synthesize_bank(EmbeddedSplit::Test, opt.recipe, opt.seed);
    bar.finish();
  }
  SplitData train, test;
  {
    done = 0;
    ProgressBar bar("embedded: samples", opt.num_train + opt.num_test, opt.show_progress);
    train = generate_split(EmbeddedSplit::Train, train_images, train_labels, train_bank, opt.recipe, opt.seed, bar, done);
    test = generate_split(EmbeddedSplit::Test, test_images, test_labels, test_bank, opt.recipe, opt.seed, bar, done);
    bar.finish();
  }
  Stats visual_stats = stats_of(train.visual, 1.0 / 255.0);
  Stats audio_stats = stats_of(train.audio, 1.0);

  std::vector<ArrayFile> files;
  files.push_back(save_array(opt.dir, "train_visual.u8", "train", "visual", train.visual));
  files.push_back(save_array(opt.dir, "train_audio.f16", "train", "audio", train.audio));
  files.push_back(save_array(opt.dir, "train_labels.i64", "train", "labels", train.labels));
  files.push_back(save_array(opt.dir, "test_visual.u8", "test", "visual", test.visual));
  files.push_back(save_array(opt.dir, "test_audio.f16", "test", "audio", test.audio));
  files.push_back(save_array(opt.dir, "test_labels.i64", "test", "labels", test.labels));

  auto voice_list = [&](EmbeddedSplit s) {
    std::vector<std::string> out;
    for (const auto& v : embedded_voices(s, opt.recipe, opt.seed)) out.push_back(v.describe());
    return out;
  };
  const auto lm = embedded_log_mel();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  json meta{{"format", kFormat},
            {"version", kEmbeddedVersion},
            {"seed", opt.seed},
            {"num_train", opt.num_train},
            {"num_test", opt.num_test},
            {"class_names", classes},
            {"modalities",
             {{{"name", "visual"}, {"shape", {1, 28, 28}}, {"dtype", "uint8"}, {"scale", 1.0 / 255.0},
               {"mean", visual_stats.mean}, {"std", visual_stats.std}},
              {{"name", "audio"}, {"shape", {1, lm.n_mels, log_mel_frames(clip_samples(), lm)}}, {"dtype", "float16"},
               {"scale", 1.0}, {"mean", audio_stats.mean}, {"std", audio_stats.std}}}},
            {"log_mel",
             {{"sample_rate", lm.sample_rate}, {"n_fft", lm.n_fft}, {"hop_length", lm.hop_length},
              {"n_mels", lm.n_mels}, {"scale", "slaney"}, {"norm", "slaney"}, {"eps", lm.eps},
              {"clip_samples", clip_samples()}}},
            {"recipe", recipe_json(opt.recipe)},
            {"voices", {{"train", voice_list(EmbeddedSplit::Train)}, {"test", voice_list(EmbeddedSplit::Test)}}},
            {"source", opt.source_dir},
            {"prepare_seconds", seconds}};
  meta["files"] = json::array();
  for (const auto& f : files) meta["files"].push_back(file_json(f));
  std::string text = meta.dump(2) + "\n";
  write_atomically(meta_path, text.data(), text.size());
  return true;
}

void prepare_embedded(const std::string& dir, uint64_t seed, bool show_progress) {
  EmbeddedPrepareOptions opt;
  opt.dir = dir;
  opt.seed = seed;
  opt.show_progress = show_progress;
  prepare_embedded(opt);
}

DataSplits load_embedded(const EmbeddedOptions& opt) {
  const std::string meta_path = join_path(opt.dir, "meta.json");
  if (!fs::exists(meta_path)) {
    if (!opt.prepare_if_missing)
      fail("{}: the embedded dataset is not prepared (meta.json missing); run `crmt data prepare`", meta_path);
    EmbeddedPrepareOptions prep;
    prep.dir = opt.dir;
    prep.seed = opt.data_seed;
    prep.source_dir = opt.source_dir;
    prep.show_progress = opt.show_progress;
    prepare_embedded(prep);
  }
  json meta;
  std::string why;
  if (!read_json(meta_path, meta, &why)) fail("{}: {}; {}", meta_path, why, kPrepareHint);

  MultiModalDataset split_data[2];
  try {
    if (meta.value("format", "") != kFormat)
      fail("{}: not an embedded-dataset cache (format '{}', expected '{}')", meta_path, meta.value("format", ""), kFormat);
    int version = meta.at("version").get<int>();
    if (version != kEmbeddedVersion)
      fail("{}: cache version {} but this build reads version {}; {}", meta_path, version, kEmbeddedVersion, kPrepareHint);
    uint64_t seed = meta.at("seed").get<uint64_t>();
    if (seed != opt.data_seed)
      fail("{}: cache prepared with seed {} but data seed {} was requested; {} (or use another data.root)", meta_path,
           seed, opt.data_seed, kPrepareHint);
    auto class_names = meta.at("class_names").get<std::vector<std::string>>();

    ModalitySpecs specs;
    std::vector<double> mean, stdev, scale;
    for (const auto& m : meta.at("modalities")) {
      ModalitySpec spec;
      spec.name = m.at("name").get<std::string>();
      spec.shape = m.at("shape").get<std::vector<int64_t>>();
      mean.push_back(m.at("mean").get<double>());
      stdev.push_back(m.at("std").get<double>());
      scale.push_back(m.at("scale").get<double>());
      if (!(stdev.back() > 0)) fail("{}: modality '{}' has std {} (must be positive)", meta_path, spec.name, stdev.back());
      if (m.at("dtype").get<std::string>() == "uint8") {  // pixel values: valid range [0, 1] before normalizing
        spec.lower = (0.0 - mean.back()) / stdev.back();
        spec.upper = (255.0 * scale.back() - mean.back()) / stdev.back();
      }
      specs.push_back(spec);
    }

    const char* splits[2] = {"train", "test"};
    for (int s = 0; s < 2; ++s) {
      MultiModalDataset& d = split_data[s];
      d.specs = specs;
      d.class_names = class_names;
      d.source = fmt::format("{} ({})", opt.dir, splits[s]);
      d.inputs.resize(specs.size());
      std::vector<bool> found(specs.size(), false);
      for (const auto& f : meta.at("files")) {
        if (f.at("split").get<std::string>() != splits[s]) continue;
        auto role = f.at("role").get<std::string>();
        auto t = load_array(opt.dir, f, meta_path);
        if (role == "labels") {
          d.labels = t.to(torch::kLong);
          continue;
        }
        size_t m = 0;
        while (m < specs.size() && specs[m].name != role) ++m;
        if (m == specs.size()) fail("{}: file for unknown modality '{}'", meta_path, role);
        d.inputs[m] = t.to(torch::kFloat).mul_(scale[m]).sub_(mean[m]).div_(stdev[m]);
        found[m] = true;
      }
      for (size_t m = 0; m < specs.size(); ++m)
        if (!found[m]) fail("{}: no {} file for modality '{}'; {}", meta_path, splits[s], specs[m].name, kPrepareHint);
      if (!d.labels.defined()) fail("{}: no {} labels file; {}", meta_path, splits[s], kPrepareHint);
    }
  } catch (const json::exception& e) {
    fail("{}: malformed meta.json ({}); {}", meta_path, e.what(), kPrepareHint);
  }

  auto& train = split_data[0];
  auto& test = split_data[1];
  auto select = [&](MultiModalDataset& d, int64_t size, const char* key, uint64_t stream) {
    if (size < 0) fail("{}: must be >= 0 (0 = all), got {}", key, size);
    if (size == 0 || size == d.size()) return;
    if (size > d.size())
      fail("{}: {} samples requested but the cache in {} holds {}", key, size, opt.dir, d.size());
    auto src = d.source;
    d = d.subset(stratified_indices(d.labels, size, mix_seed(opt.seed, stream)));
    d.source = src;
  };
  select(train, opt.train_size, "data.train_size", 1);
  select(test, opt.test_size, "data.test_size", 2);
  train.validate();
  test.validate();
  auto splits = split_validation(std::move(train), std::move(test), opt.val_fraction, opt.seed);
  if (splits.train.size() == 0) fail("data.val_fraction: {} leaves no training samples", opt.val_fraction);
  return splits;
}

}  // namespace crmt
