#pragma once
#include "crmt/core/config.h"
#include "crmt/data/dataset.h"
#include "crmt/data/embedded_synthesis.h"

namespace crmt {

// The train/validation/test splits that the `data` section of a config names: the embedded
// audio-visual set (prepared on first use) or synthetic Gaussian clusters.
DataSplits load_data(const Config& config, bool show_progress);

// The embedded recipe with the corruption settings of the config's data.embedded section.
EmbeddedRecipe embedded_recipe(const Config& config);

}  // namespace crmt
