#pragma once
#include <cstdint>
#include <vector>

#include "crmt/data/dataset.h"

namespace crmt {

// Gaussian class clusters, one independent set of class means per modality: fast data for tests,
// any number of modalities. Modality m is named "m<index>" unless names are given; `noise` per
// modality sets how informative it is (larger = harder).
struct SyntheticOptions {
  int64_t samples = 200;
  int64_t classes = 3;
  std::vector<int64_t> dims = {8, 8};
  std::vector<double> noise = {};  // default 1.0 each
  std::vector<std::string> names = {};
  double separation = 2.0;         // norm of each class mean
  uint64_t seed = 0;
};

MultiModalDataset make_synthetic(const SyntheticOptions& options);

}  // namespace crmt
