#include "crmt/data/data_factory.h"

#include "crmt/core/error.h"
#include "crmt/data/embedded_dataset.h"
#include "crmt/data/source_registry.h"
#include "crmt/data/synthetic.h"

namespace crmt {

namespace {

DataSplits load_synthetic(const Config& config, bool show_progress) {
  SyntheticOptions o;
  const auto modalities = config.integer("data.synthetic.modalities");
  if (modalities < 1) fail("data.synthetic.modalities must be >= 1, got {}", modalities);
  o.classes = config.integer("data.synthetic.classes");
  o.dims.assign(modalities, config.integer("data.synthetic.dim"));
  o.noise.assign(modalities, config.real("data.synthetic.noise"));
  o.seed = static_cast<uint64_t>(config.integer("seed"));
  const int64_t n_train = config.integer("data.synthetic.samples");
  // One draw (same class means) split into train and test.
  o.samples = n_train + config.integer("data.synthetic.test_samples");
  auto all = make_synthetic(o);
  auto train = all.subset(torch::arange(0, n_train, torch::kLong));
  auto test = all.subset(torch::arange(n_train, all.size(), torch::kLong));
  test.source = "synthetic (test)";
  test.validate();
  return split_validation(train, test, config.real("data.val_fraction"), o.seed);
}
CRMT_REGISTER_SOURCE("synthetic", "Gaussian class clusters, any number of modalities (tests, smoke runs)",
                     load_synthetic);

// The corruption knobs of the embedded recipe: how hard each modality is, hence which one a model
// comes to prefer (docs/dataset.md, configs/preference/). A cache remembers the recipe it was made
// with: another setting needs its own data.root (prepared there on first use).
CRMT_REGISTER_CONFIG_SECTION("data.embedded", R"(
visual_noise_std: 0.2   # Gaussian pixel noise (pixel values in [0, 1])
visual_occlusion: 10    # side of the square patch blacked out in each 28x28 image (0: none)
min_snr_db: -13         # each clip's speech-to-noise ratio is drawn uniformly from [min, max] dB
max_snr_db: 2
)");

DataSplits load_embedded_splits(const Config& config, bool show_progress) {
  EmbeddedOptions o;
  o.recipe = embedded_recipe(config);
  o.dir = config.str("data.root");
  o.train_size = config.integer("data.train_size");
  o.test_size = config.integer("data.test_size");
  o.val_fraction = config.real("data.val_fraction");
  o.seed = static_cast<uint64_t>(config.integer("seed"));
  o.show_progress = show_progress;
  return load_embedded(o);
}
CRMT_REGISTER_SOURCE("embedded", "the offline audio-visual default: Fashion-MNIST images + spoken class names",
                     load_embedded_splits);

}  // namespace

EmbeddedRecipe embedded_recipe(const Config& config) {
  EmbeddedRecipe recipe;
  recipe.visual_noise_std = config.real("data.embedded.visual_noise_std");
  recipe.visual_occlusion = static_cast<int>(config.integer("data.embedded.visual_occlusion"));
  recipe.min_snr_db = config.real("data.embedded.min_snr_db");
  recipe.max_snr_db = config.real("data.embedded.max_snr_db");
  check_recipe(recipe);
  return recipe;
}

DataSplits load_data(const Config& config, bool show_progress) {
  // Checked for every source, so that a typo is an error even where nothing is read from files.
  parse_on_bad_sample(config.str("data.on_bad_sample"), OnBadSample::Skip);
  auto splits = source_info(config.str("data.name")).load(config, show_progress);
  const auto keep = config.strings("data.modalities");
  if (keep.empty()) return splits;
  for (auto* split : {&splits.train, &splits.val, &splits.test}) *split = split->select(keep);
  return splits;
}

}  // namespace crmt
