#include "crmt/attacks/attack_factory.h"

#include "crmt/attacks/gradient_attacks.h"
#include "crmt/attacks/missing_modality.h"
#include "crmt/attacks/noise_attacks.h"
#include "crmt/core/error.h"

namespace crmt {

std::unique_ptr<Attack> build_attack(const AttackSpec& spec) {
  if (spec.kind == "none" || spec.kind == "clean") return nullptr;
  if (spec.kind != "missing" && !(spec.eps >= 0)) fail("attack eps must be >= 0, got {}", spec.eps);
  if (spec.kind == "fgm") return std::make_unique<Fgm>(spec.eps);
  if (spec.kind == "pgd") return std::make_unique<PgdL2>(spec.eps, spec.steps);
  if (spec.kind == "missing") return std::make_unique<MissingModality>();
  if (spec.kind == "mgn") return std::make_unique<GaussianNoise>(spec.eps, spec.seed);
  if (spec.kind == "mpm") return std::make_unique<PixelMissing>(spec.eps, spec.seed);
  if (spec.kind == "mea") return std::make_unique<EmbeddingAttack>(spec.eps, spec.steps > 0 ? spec.steps : 10, spec.seed);
  fail("unknown attack '{}': use none, fgm, pgd, missing, mgn, mpm or mea", spec.kind);
}

}  // namespace crmt
