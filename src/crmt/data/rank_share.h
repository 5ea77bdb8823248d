#pragma once
#include "crmt/data/dataset.h"

namespace crmt {

class Collective;

// This rank's contiguous part of `data` (samples [n r / w, n (r + 1) / w) of n, rank r of w), so
// that the ranks of a distributed evaluation split it without overlap; all of it on one process.
MultiModalDataset rank_share(const MultiModalDataset& data, const Collective& group);

}  // namespace crmt
