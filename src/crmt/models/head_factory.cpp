#include "crmt/models/head_factory.h"

#include "crmt/core/error.h"
#include "crmt/models/concat_head.h"

namespace crmt {

std::shared_ptr<FusionHeadImpl> build_head(const Config& config, const std::vector<int64_t>& embed_dims,
                                           int64_t num_classes) {
  const auto kind = config.str("model.head");
  if (kind == "concat") return std::make_shared<ConcatHeadImpl>(embed_dims, num_classes);
  fail("model.head must be concat, orthogonal or orthogonal_official, got '{}'", kind);
}

}  // namespace crmt
