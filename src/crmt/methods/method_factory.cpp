#include "crmt/methods/method_factory.h"

#include "crmt/core/error.h"
#include "crmt/methods/crmt.h"
#include "crmt/methods/joint_training.h"

namespace crmt {

std::vector<std::string> known_methods() { return {"jt", "crmt_jt", "ojt", "crmt_step1", "crmt_step2"}; }

std::unique_ptr<Method> build_method(const Config& config) {
  const auto name = config.str("train.method");
  if (name == "jt") return std::make_unique<JointTraining>();
  // CRMT and its ablations are one method with different settings; the name fixes the switches so
  // that a config cannot silently run e.g. "ojt" with step 2 on.
  if (name == "crmt_jt" || name == "ojt" || name == "crmt_step1" || name == "crmt_step2") {
    auto s = CrmtSettings::from_config(config);
    if (name == "ojt") s.rho = 0, s.step2 = false;
    if (name == "crmt_step1") s.step2 = false;
    if (name == "crmt_step2") s.rho = 0;
    return std::make_unique<Crmt>(s);
  }
  fail("train.method '{}' is unknown; known methods: {}", name, fmt::join(known_methods(), ", "));
}

}  // namespace crmt
