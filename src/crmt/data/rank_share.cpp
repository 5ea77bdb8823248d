#include "crmt/data/rank_share.h"

#include <ATen/ATen.h>

#include "crmt/core/collective.h"

namespace crmt {

MultiModalDataset rank_share(const MultiModalDataset& data, const Collective& group) {
  const int64_t n = data.size(), r = group.rank(), w = group.world_size();
  if (w <= 1) return data;
  return data.subset(at::arange(n * r / w, n * (r + 1) / w, at::kLong));
}

}  // namespace crmt
