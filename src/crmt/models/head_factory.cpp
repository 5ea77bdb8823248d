#include "crmt/models/head_factory.h"

#include "crmt/core/error.h"
#include "crmt/models/concat_head.h"
#include "crmt/models/orthogonal_head.h"

namespace crmt {

std::shared_ptr<FusionHeadImpl> build_head(const Config& config, const std::vector<int64_t>& embed_dims,
                                           int64_t num_classes) {
  const auto kind = config.str("model.head");
  if (kind == "concat") return std::make_shared<ConcatHeadImpl>(embed_dims, num_classes);
  if (kind == "orthogonal" || kind == "orthogonal_official")
    return std::make_shared<OrthogonalHeadImpl>(embed_dims, num_classes, config.real("crmt.a_init"),
                                                kind == "orthogonal_official");
  fail("model.head must be concat, orthogonal or orthogonal_official, got '{}'", kind);
}

}  // namespace crmt
