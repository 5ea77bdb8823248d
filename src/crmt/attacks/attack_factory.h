#pragma once
#include <memory>
#include <string>

#include "crmt/attacks/attack.h"

namespace crmt {

struct AttackSpec {
  std::string kind = "none";  // none | fgm | pgd | missing
  double eps = 0.5;
  int steps = 4;              // pgd only
};

// nullptr for "none".
std::unique_ptr<Attack> build_attack(const AttackSpec& spec);

}  // namespace crmt
