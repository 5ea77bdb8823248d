#pragma once
#include <memory>
#include <string>

#include "crmt/attacks/attack.h"

namespace crmt {

// `eps` is the attack's strength: the l2 budget (fgm, pgd, mea), the noise standard deviation
// (mgn) or the share of entries removed (mpm); unused by missing.
struct AttackSpec {
  std::string kind = "none";  // none | fgm | pgd | missing | mgn | mpm | mea
  double eps = 0.5;
  int steps = 4;              // pgd and mea iterations
  uint64_t seed = 0;          // mgn, mpm and mea draw random numbers from it
};

// nullptr for "none".
std::unique_ptr<Attack> build_attack(const AttackSpec& spec);

}  // namespace crmt
