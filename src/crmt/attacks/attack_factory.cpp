#include "crmt/attacks/attack_factory.h"

#include "crmt/attacks/gradient_attacks.h"
#include "crmt/attacks/missing_modality.h"
#include "crmt/core/error.h"

namespace crmt {

std::unique_ptr<Attack> build_attack(const AttackSpec& spec) {
  if (spec.kind == "none" || spec.kind == "clean") return nullptr;
  if (spec.kind != "missing" && !(spec.eps >= 0)) fail("attack eps must be >= 0, got {}", spec.eps);
  if (spec.kind == "fgm") return std::make_unique<Fgm>(spec.eps);
  if (spec.kind == "pgd") return std::make_unique<PgdL2>(spec.eps, spec.steps);
  if (spec.kind == "missing") return std::make_unique<MissingModality>();
  fail("unknown attack '{}': use none, fgm, pgd or missing", spec.kind);
}

}  // namespace crmt
