#pragma once
#include "crmt/core/config.h"
#include "crmt/data/dataset.h"

namespace crmt {

// The train/validation/test splits that the `data` section of a config names: the embedded
// audio-visual set (prepared on first use) or synthetic Gaussian clusters.
DataSplits load_data(const Config& config, bool show_progress);

}  // namespace crmt
