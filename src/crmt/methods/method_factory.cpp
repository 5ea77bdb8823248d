#include "crmt/methods/method_factory.h"

#include "crmt/core/error.h"
#include "crmt/methods/adversarial_training.h"
#include "crmt/methods/crmt.h"
#include "crmt/methods/crmt_at.h"
#include "crmt/methods/crmt_mix.h"
#include "crmt/methods/gradient_blending.h"
#include "crmt/methods/joint_training.h"
#include "crmt/methods/mixup.h"
#include "crmt/methods/msefm.h"
#include "crmt/methods/ogm_ge.h"
#include "crmt/methods/pmr.h"
#include "crmt/methods/rmtl.h"
#include "crmt/methods/ume_mma.h"

namespace crmt {

std::vector<std::string> known_methods() {
  return {"jt",  "crmt_jt", "ojt",   "crmt_step1", "crmt_step2", "crmt_at", "crmt_mix", "gb",
          "ogm_ge", "pmr", "msefm", "mmat",       "mixup",      "ume_mma", "rmtl"};
}

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
  if (name == "crmt_at") return std::make_unique<CrmtAt>(CrmtSettings::from_config(config), AdversarialSettings::from_config(config));
  if (name == "crmt_mix") {
    const double alpha = config.real("mixup.alpha");
    if (alpha < 0) fail("mixup.alpha must be >= 0, got {}", alpha);
    return std::make_unique<CrmtMix>(CrmtSettings::from_config(config), alpha);
  }
  if (name == "gb") return GradientBlending::from_config(config);
  if (name == "ogm_ge") return std::make_unique<OgmGe>(OgmGeSettings::from_config(config));
  if (name == "pmr") return std::make_unique<Pmr>(PmrSettings::from_config(config));
  if (name == "msefm") return std::make_unique<Msefm>(MsefmSettings::from_config(config));
  if (name == "mmat") return std::make_unique<AdversarialTraining>(AdversarialSettings::from_config(config));
  if (name == "mixup") return Mixup::from_config(config);
  if (name == "ume_mma") return UmeMma::from_config(config);
  if (name == "rmtl") return Rmtl::from_config(config);
  fail("train.method '{}' is unknown; known methods: {}", name, fmt::join(known_methods(), ", "));
}

}  // namespace crmt
