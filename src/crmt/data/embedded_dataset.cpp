#include "crmt/data/embedded_dataset.h"

#include <chrono>
#include <filesystem>
#include <optional>
#include <nlohmann/json.hpp>

#include "crmt/core/error.h"
#include "crmt/core/progress.h"
#include "crmt/data/array_store.h"
#include "crmt/media/audio/log_mel.h"
#include "crmt/media/io/idx_reader.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace crmt {

namespace {

constexpr const char* kFormat = "crmt-embedded";


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

// ---------------------------------------------------------------------------------------------
// Preparation.

struct Stats {
  double mean = 0, std = 1;
};

// Mean and (population) std of x * scale; a constant modality gets std 1 so that normalizing is safe.
Stats stats_of(const at::Tensor& x, double scale) {
  auto d = x.to(torch::kDouble).mul(scale);
  Stats s;
  s.mean = d.mean().item<double>();
  s.std = d.std(/*unbiased=*/false).item<double>();
  if (!(s.std > 0)) s.std = 1;
  return s;
}

// Whether the cache in `dir` was made by these options and its files have the recorded sizes.
bool cache_matches(const EmbeddedPrepareOptions& opt, std::string& why) {
  json meta;
  if (!read_manifest(join_path(opt.dir, "meta.json"), meta, &why)) return false;
  try {
    if (meta.value("format", "") != kFormat) return why = "not an embedded-dataset cache", false;
    if (meta.at("version").get<int>() != kEmbeddedVersion) return why = "other version", false;
    if (meta.at("seed").get<uint64_t>() != opt.seed) return why = "other seed", false;
    if (meta.at("num_train").get<int64_t>() != opt.num_train || meta.at("num_test").get<int64_t>() != opt.num_test)
      return why = "other sizes", false;
    if (meta.at("recipe") != recipe_json(opt.recipe)) return why = "other recipe", false;
    return array_files_present(opt.dir, meta.at("files"), why);
  } catch (const json::exception& e) {
    return why = std::string("malformed meta.json: ") + e.what(), false;
  }
}

void check_sizes(const EmbeddedPrepareOptions& opt) {
  if (opt.num_train < 1 || opt.num_train > kEmbeddedTrainSamples || opt.num_test < 1 ||
      opt.num_test > kEmbeddedTestSamples)
    fail("embedded dataset: sizes must be 1..{} train and 1..{} test, got {} and {}", kEmbeddedTrainSamples,
         kEmbeddedTestSamples, opt.num_train, opt.num_test);
}

// The first `count` images (uint8 [count,28,28]) of a Fashion-MNIST idx file.
at::Tensor read_images(const std::string& source_dir, const std::string& file, int64_t count) {
  auto path = join_path(source_dir, file);
  auto a = read_idx(path, 3, count);
  if (a.shape[0] < count || a.shape[1] != 28 || a.shape[2] != 28)
    fail("{}: expected at least {} images of 28x28, found [{}, ...]", path, count, fmt::join(a.shape, ","));
  return torch::from_blob(a.data.data(), {count, 28, 28}, torch::kByte).clone();
}

// The first `count` labels (int64 [count]) of a Fashion-MNIST idx file, checked to be classes.
at::Tensor read_labels(const std::string& source_dir, const std::string& file, int64_t count) {
  auto path = join_path(source_dir, file);
  auto a = read_idx(path, 1, count);
  if (a.shape[0] < count) fail("{}: expected at least {} labels, found {}", path, count, a.shape[0]);
  auto l = torch::from_blob(a.data.data(), {count}, torch::kByte).to(torch::kLong);
  if (l.max().item<int64_t>() >= static_cast<int64_t>(embedded_class_names().size()))
    fail("{}: label {} is not a Fashion-MNIST class (0-9)", path, l.max().item<int64_t>());
  return l;
}

struct Sources {
  at::Tensor train_images, train_labels, test_images, test_labels;
};

Sources read_sources(const EmbeddedPrepareOptions& opt) {
  Sources s;
  s.train_images = read_images(opt.source_dir, "train-images-idx3-ubyte.gz", opt.num_train);
  s.train_labels = read_labels(opt.source_dir, "train-labels-idx1-ubyte.gz", opt.num_train);
  s.test_images = read_images(opt.source_dir, "t10k-images-idx3-ubyte.gz", opt.num_test);
  s.test_labels = read_labels(opt.source_dir, "t10k-labels-idx1-ubyte.gz", opt.num_test);
  return s;
}

// Creates the cache folder and removes its meta.json: from here on the old cache is invalid.
void invalidate_cache(const std::string& dir, const std::string& meta_path) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail("{}: cannot create the directory: {}", dir, ec.message());
  fs::remove(meta_path, ec);
  if (ec) fail("{}: cannot remove the old meta.json: {}", meta_path, ec.message());
}

// One split's samples, with progress bars for its speech bank and for its samples.
SplitData make_split(EmbeddedSplit split, const EmbeddedPrepareOptions& opt, const at::Tensor& images,
                     const at::Tensor& labels) {
  const bool train = split == EmbeddedSplit::Train;
  const int64_t classes = static_cast<int64_t>(embedded_class_names().size());
  const int64_t per_class = train ? opt.recipe.train_utterances_per_class : opt.recipe.test_utterances_per_class;
  std::vector<std::vector<Utterance>> bank;
  {
    ProgressBar bar(train ? "embedded: train speech" : "embedded: test speech", classes * per_class, opt.show_progress);
    bank = synthesize_bank(split, opt.recipe, opt.seed);
    bar.finish();
  }
  int64_t done = 0;
  ProgressBar bar(train ? "embedded: train samples" : "embedded: test samples", images.size(0), opt.show_progress);
  auto data = generate_split(split, images, labels, bank, opt.recipe, opt.seed, bar, done);
  bar.finish();
  return data;
}

std::vector<ArrayFile> save_split(const std::string& dir, const std::string& split, const SplitData& d) {
  return {save_array(dir, split + "_visual.u8", split, "visual", d.visual),
          save_array(dir, split + "_audio.f16", split, "audio", d.audio),
          save_array(dir, split + "_labels.i64", split, "labels", d.labels)};
}

// A preparation killed after its train split (six sevenths of the work) resumes from it: the saved
// split is recorded in train_stage.json with what it was made from, and a later preparation with
// the same seed, sizes and recipe loads it (sizes and CRCs checked) instead of making it again.
constexpr const char* kTrainStage = "train_stage.json";

json stage_key(const EmbeddedPrepareOptions& opt) {
  return {{"format", kFormat}, {"version", kEmbeddedVersion}, {"seed", opt.seed},
          {"num_train", opt.num_train}, {"num_test", opt.num_test}, {"recipe", recipe_json(opt.recipe)}};
}

std::optional<std::pair<SplitData, std::vector<ArrayFile>>> saved_train_split(const EmbeddedPrepareOptions& opt) {
  const std::string path = join_path(opt.dir, kTrainStage);
  json stage;
  std::string why;
  if (opt.force || !read_manifest(path, stage, &why)) return std::nullopt;
  try {
    if (stage.at("key") != stage_key(opt) || !array_files_present(opt.dir, stage.at("files"), why)) return std::nullopt;
    SplitData d;
    std::vector<ArrayFile> files;
    for (const auto& entry : stage.at("files")) {
      const auto role = entry.at("role").get<std::string>();
      (role == "visual" ? d.visual : role == "audio" ? d.audio : d.labels) = load_array(opt.dir, entry, path);
      files.push_back({entry.at("name").get<std::string>(), entry.at("split").get<std::string>(), role,
                       entry.at("dtype").get<std::string>(), entry.at("shape").get<std::vector<int64_t>>(),
                       entry.at("bytes").get<uint64_t>(), entry.at("crc32").get<uint32_t>()});
    }
    if (!d.visual.defined() || !d.audio.defined() || !d.labels.defined()) return std::nullopt;
    return std::make_pair(std::move(d), std::move(files));
  } catch (const json::exception&) {
    return std::nullopt;
  } catch (const Error&) {
    return std::nullopt;  // a damaged saved split is made again
  }
}

std::vector<std::string> voice_list(EmbeddedSplit split, const EmbeddedPrepareOptions& opt) {
  std::vector<std::string> out;
  for (const auto& v : embedded_voices(split, opt.recipe, opt.seed)) out.push_back(v.describe());
  return out;
}

// meta.json: what was made and how (docs/dataset.md), the normalization statistics of the train
// split, the array files, and the time since `t0`.
json embedded_meta(const EmbeddedPrepareOptions& opt, const SplitData& train, const std::vector<ArrayFile>& files,
                   std::chrono::steady_clock::time_point t0) {
  const Stats visual_stats = stats_of(train.visual, 1.0 / 255.0);
  const Stats audio_stats = stats_of(train.audio, 1.0);
  const auto lm = embedded_log_mel();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  json meta{{"format", kFormat},
            {"version", kEmbeddedVersion},
            {"seed", opt.seed},
            {"num_train", opt.num_train},
            {"num_test", opt.num_test},
            {"class_names", embedded_class_names()},
            {"modalities",
             {{{"name", "visual"}, {"shape", {1, 28, 28}}, {"dtype", "uint8"}, {"scale", 1.0 / 255.0},
               {"mean", visual_stats.mean}, {"std", visual_stats.std}},
              {{"name", "audio"}, {"shape", {1, lm.n_mels, log_mel_frames(embedded_clip_samples(), lm)}},
               {"dtype", "float16"}, {"scale", 1.0}, {"mean", audio_stats.mean}, {"std", audio_stats.std}}}},
            {"log_mel",
             {{"sample_rate", lm.sample_rate}, {"n_fft", lm.n_fft}, {"hop_length", lm.hop_length},
              {"n_mels", lm.n_mels}, {"scale", "slaney"}, {"norm", "slaney"}, {"eps", lm.eps},
              {"clip_samples", embedded_clip_samples()}}},
            {"recipe", recipe_json(opt.recipe)},
            {"voices",
             {{"train", voice_list(EmbeddedSplit::Train, opt)}, {"test", voice_list(EmbeddedSplit::Test, opt)}}},
            {"source", opt.source_dir},
            {"prepare_seconds", seconds}};
  meta["files"] = json::array();
  for (const auto& f : files) meta["files"].push_back(array_file_json(f));
  return meta;
}

// ---------------------------------------------------------------------------------------------
// Loading.

// Fails unless meta.json is an embedded cache of this version prepared with `data_seed`.
void check_meta_header(const json& meta, const std::string& meta_path, uint64_t data_seed) {
  if (meta.value("format", "") != kFormat)
    fail("{}: not an embedded-dataset cache (format '{}', expected '{}')", meta_path, meta.value("format", ""), kFormat);
  int version = meta.at("version").get<int>();
  if (version != kEmbeddedVersion)
    fail("{}: cache version {} but this build reads version {}; {}", meta_path, version, kEmbeddedVersion, kPrepareHint);
  uint64_t seed = meta.at("seed").get<uint64_t>();
  if (seed != data_seed)
    fail("{}: cache prepared with seed {} but data seed {} was requested; {} (or use another data.root)", meta_path,
         seed, data_seed, kPrepareHint);
}

// A cache made with other corruption settings than the config asks for holds another dataset.
void check_corruption(const json& meta, const std::string& meta_path, const EmbeddedRecipe& want) {
  const auto& have = meta.at("recipe");
  const json expected = recipe_json(want);
  for (const char* key : {"visual_noise_std", "visual_occlusion", "snr_db"})
    if (have.at(key) != expected.at(key))
      fail("{}: cache prepared with {} = {} but the config asks for {} (data.embedded); use another data.root "
           "(prepared there on first use) or `crmt data prepare --force`",
           meta_path, key, have.at(key).dump(), expected.at(key).dump());
}

// The modalities of meta.json with how to normalize each: x * scale, minus mean, over std.
struct Modalities {
  ModalitySpecs specs;
  std::vector<double> mean, stdev, scale;
};

Modalities read_modalities(const json& meta, const std::string& meta_path) {
  Modalities mods;
  for (const auto& m : meta.at("modalities")) {
    ModalitySpec spec;
    spec.name = m.at("name").get<std::string>();
    spec.shape = m.at("shape").get<std::vector<int64_t>>();
    mods.mean.push_back(m.at("mean").get<double>());
    mods.stdev.push_back(m.at("std").get<double>());
    mods.scale.push_back(m.at("scale").get<double>());
    if (!(mods.stdev.back() > 0))
      fail("{}: modality '{}' has std {} (must be positive)", meta_path, spec.name, mods.stdev.back());
    if (m.at("dtype").get<std::string>() == "uint8") {  // pixel values: valid range [0, 1] before normalizing
      spec.lower = (0.0 - mods.mean.back()) / mods.stdev.back();
      spec.upper = (255.0 * mods.scale.back() - mods.mean.back()) / mods.stdev.back();
    }
    mods.specs.push_back(spec);
  }
  return mods;
}

// The files must agree with what meta.json says of them: the split's sample count, each modality's
// per-sample shape, and labels that name one of its classes.
void check_split(const std::vector<at::Tensor>& inputs, const at::Tensor& labels, const Modalities& mods,
                 size_t num_classes, const json& meta, const std::string& meta_path, const std::string& split) {
  const auto key = "num_" + split;
  const auto expected = meta.at(key).get<int64_t>();
  if (labels.dim() != 1 || labels.size(0) != expected)
    fail("{}: {} = {} but the {} labels file holds {} labels; {}", meta_path, key, expected, split,
         labels.dim() == 1 ? labels.size(0) : labels.numel(), kPrepareHint);
  for (size_t m = 0; m < mods.specs.size(); ++m) {
    const auto sizes = inputs[m].sizes().vec();
    std::vector<int64_t> want{expected};
    want.insert(want.end(), mods.specs[m].shape.begin(), mods.specs[m].shape.end());
    if (sizes != want)
      fail("{}: the {} file of modality '{}' holds [{}] but meta.json describes [{}]; {}", meta_path, split,
           mods.specs[m].name, fmt::join(sizes, ","), fmt::join(want, ","), kPrepareHint);
  }
  const auto classes = static_cast<int64_t>(num_classes);
  if (expected > 0 && (labels.min().item<int64_t>() < 0 || labels.max().item<int64_t>() >= classes))
    fail("{}: a {} label lies outside the {} classes of class_names; {}", meta_path, split, classes, kPrepareHint);
}

// The arrays of one split ("train" / "test") with their normalization; fails when a modality or the
// labels lack a file.
MultiModalDataset load_split(const std::string& dir, const json& meta, const std::string& meta_path,
                             const Modalities& mods, const std::vector<std::string>& class_names, const char* split) {
  const auto& specs = mods.specs;
  std::vector<at::Tensor> inputs(specs.size());
  std::vector<StoredScale> stored(specs.size());
  at::Tensor labels;
  std::vector<bool> found(specs.size(), false);
  for (const auto& f : meta.at("files")) {
    if (f.at("split").get<std::string>() != split) continue;
    auto role = f.at("role").get<std::string>();
    auto t = load_array(dir, f, meta_path);
    if (role == "labels") {
      labels = t.to(torch::kLong);
      continue;
    }
    size_t m = 0;
    while (m < specs.size() && specs[m].name != role) ++m;
    if (m == specs.size()) fail("{}: file for unknown modality '{}'", meta_path, role);
    // Kept as stored (uint8 pixels, float16 spectrograms), normalized per batch read (TensorSource).
    const auto type = t.scalar_type();
    inputs[m] = type == torch::kByte || type == torch::kHalf || type == torch::kFloat ? std::move(t) : t.to(torch::kFloat);
    stored[m] = StoredScale{mods.scale[m], mods.mean[m], mods.stdev[m]};
    found[m] = true;
  }
  for (size_t m = 0; m < specs.size(); ++m)
    if (!found[m]) fail("{}: no {} file for modality '{}'; {}", meta_path, split, specs[m].name, kPrepareHint);
  if (!labels.defined()) fail("{}: no {} labels file; {}", meta_path, split, kPrepareHint);
  check_split(inputs, labels, mods, class_names.size(), meta, meta_path, split);
  return MultiModalDataset::in_memory(specs, std::move(inputs), std::move(labels), class_names,
                                      fmt::format("{} ({})", dir, split), std::move(stored));
}

// Replaces `d` by a class-stratified subset of `size` samples (0 or all: unchanged), seeded by the
// load seed's stream `stream`; `key` names the config field in errors.
void select_subset(MultiModalDataset& d, int64_t size, const char* key, const EmbeddedOptions& opt, uint64_t stream) {
  if (size < 0) fail("{}: must be >= 0 (0 = all), got {}", key, size);
  if (size == 0 || size == d.size()) return;
  if (size > d.size()) fail("{}: {} samples requested but the cache in {} holds {}", key, size, opt.dir, d.size());
  auto src = d.source;
  d = d.subset(stratified_indices(d.labels, size, mix_seed(opt.seed, stream)));
  d.source = src;
}

// Prepares the full-size cache for `opt` when meta.json is missing and that is allowed.
void prepare_if_missing(const EmbeddedOptions& opt, const std::string& meta_path) {
  if (fs::exists(meta_path)) return;
  if (!opt.prepare_if_missing)
    fail("{}: the embedded dataset is not prepared (meta.json missing); run `crmt data prepare`", meta_path);
  EmbeddedPrepareOptions prep;
  prep.dir = opt.dir;
  prep.seed = opt.data_seed;
  prep.source_dir = opt.source_dir;
  prep.show_progress = opt.show_progress;
  if (opt.recipe) prep.recipe = *opt.recipe;
  prepare_embedded(prep);
}

}  // namespace

bool prepare_embedded(const EmbeddedPrepareOptions& opt) {
  check_recipe(opt.recipe);
  check_sizes(opt);
  std::string why;
  if (!opt.force && cache_matches(opt, why)) return false;
  const auto t0 = std::chrono::steady_clock::now();
  // Read the sources first, so that a missing source leaves an existing cache alone.
  const Sources sources = read_sources(opt);
  const std::string meta_path = join_path(opt.dir, "meta.json");
  invalidate_cache(opt.dir, meta_path);
  SplitData train;
  std::vector<ArrayFile> files;
  if (auto saved = saved_train_split(opt)) {
    if (opt.show_progress)
      fmt::print(stderr, "embedded: resuming an interrupted preparation from its saved train split ({})\n",
                 join_path(opt.dir, kTrainStage));
    train = std::move(saved->first);
    files = std::move(saved->second);
  } else {
    train = make_split(EmbeddedSplit::Train, opt, sources.train_images, sources.train_labels);
    files = save_split(opt.dir, "train", train);
    json stage{{"key", stage_key(opt)}, {"files", json::array()}};
    for (const auto& f : files) stage["files"].push_back(array_file_json(f));
    write_manifest(join_path(opt.dir, kTrainStage), stage);
  }
  const auto test = make_split(EmbeddedSplit::Test, opt, sources.test_images, sources.test_labels);
  for (auto& f : save_split(opt.dir, "test", test)) files.push_back(std::move(f));
  // Written last: only a complete cache has a meta.json.
  write_manifest(meta_path, embedded_meta(opt, train, files, t0));
  std::error_code ec;
  fs::remove(join_path(opt.dir, kTrainStage), ec);
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
  prepare_if_missing(opt, meta_path);
  json meta;
  std::string why;
  if (!read_manifest(meta_path, meta, &why)) fail("{}: {}; {}", meta_path, why, kPrepareHint);

  MultiModalDataset train, test;
  try {
    check_meta_header(meta, meta_path, opt.data_seed);
    if (opt.recipe) check_corruption(meta, meta_path, *opt.recipe);
    auto class_names = meta.at("class_names").get<std::vector<std::string>>();
    const Modalities mods = read_modalities(meta, meta_path);
    train = load_split(opt.dir, meta, meta_path, mods, class_names, "train");
    test = load_split(opt.dir, meta, meta_path, mods, class_names, "test");
  } catch (const json::exception& e) {
    fail("{}: malformed meta.json ({}); {}", meta_path, e.what(), kPrepareHint);
  }

  select_subset(train, opt.train_size, "data.train_size", opt, 1);
  select_subset(test, opt.test_size, "data.test_size", opt, 2);
  train.validate();
  test.validate();
  auto splits = split_validation(std::move(train), std::move(test), opt.val_fraction, opt.seed);
  if (splits.train.size() == 0) fail("data.val_fraction: {} leaves no training samples", opt.val_fraction);
  return splits;
}

}  // namespace crmt
