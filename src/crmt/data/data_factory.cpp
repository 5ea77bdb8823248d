#include "crmt/data/data_factory.h"

#include "crmt/core/error.h"
#include "crmt/data/embedded_dataset.h"
#include "crmt/data/synthetic.h"

namespace crmt {

namespace {

DataSplits load_synthetic(const Config& config) {
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

}  // namespace

namespace {

// Keeps the modalities named in data.modalities, in that order; throws naming an unknown one.
MultiModalDataset select_modalities(const MultiModalDataset& d, const std::vector<std::string>& keep) {
  MultiModalDataset out = d;
  out.specs.clear();
  out.inputs.clear();
  for (const auto& name : keep) {
    auto names = d.modality_names();
    auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) fail("data.modalities: '{}' is not a modality of {} (it has {})", name, d.source, fmt::join(names, ", "));
    auto m = static_cast<size_t>(it - names.begin());
    out.specs.push_back(d.specs[m]);
    out.inputs.push_back(d.inputs[m]);
  }
  return out;
}

DataSplits load_all_modalities(const Config& config, bool show_progress);

}  // namespace

DataSplits load_data(const Config& config, bool show_progress) {
  auto splits = load_all_modalities(config, show_progress);
  const auto keep = config.strings("data.modalities");
  if (keep.empty()) return splits;
  for (auto* split : {&splits.train, &splits.val, &splits.test}) *split = select_modalities(*split, keep);
  return splits;
}

namespace {

DataSplits load_all_modalities(const Config& config, bool show_progress) {
  const auto name = config.str("data.name");
  if (name == "synthetic") return load_synthetic(config);
  if (name == "embedded") {
    EmbeddedOptions o;
    o.dir = config.str("data.root");
    o.train_size = config.integer("data.train_size");
    o.test_size = config.integer("data.test_size");
    o.val_fraction = config.real("data.val_fraction");
    o.seed = static_cast<uint64_t>(config.integer("seed"));
    o.show_progress = show_progress;
    return load_embedded(o);
  }
  fail("data.name must be embedded or synthetic, got '{}'", name);
}

}  // namespace

}  // namespace crmt
