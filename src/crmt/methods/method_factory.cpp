#include "crmt/methods/method_factory.h"

#include "crmt/core/error.h"
#include "crmt/methods/joint_training.h"

namespace crmt {

std::vector<std::string> known_methods() { return {"jt"}; }

std::unique_ptr<Method> build_method(const Config& config) {
  const auto name = config.str("train.method");
  if (name == "jt") return std::make_unique<JointTraining>();
  fail("train.method '{}' is unknown; known methods: {}", name, fmt::join(known_methods(), ", "));
}

}  // namespace crmt
