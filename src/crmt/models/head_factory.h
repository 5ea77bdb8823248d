#pragma once
#include <memory>
#include <vector>

#include "crmt/core/config.h"
#include "crmt/models/fusion_head.h"

namespace crmt {

// The fusion head that model.head names: concat (JT), orthogonal or orthogonal_official (CRMT).
std::shared_ptr<FusionHeadImpl> build_head(const Config& config, const std::vector<int64_t>& embed_dims,
                                           int64_t num_classes);

}  // namespace crmt
