#include "crmt/attacks/attack_registry.h"

#include <algorithm>

#include "crmt/core/error.h"

namespace crmt {

namespace {
// Function-local, so registrations from other translation units' static initialisers find it built.
std::vector<AttackInfo>& registry() {
  static std::vector<AttackInfo> attacks;
  return attacks;
}
}  // namespace

detail::AttackRegistration::AttackRegistration(AttackInfo info) {
  auto& all = registry();
  auto same = [&](const AttackInfo& a) { return a.name == info.name; };
  if (std::any_of(all.begin(), all.end(), same)) throw Error("attack '" + info.name + "' is registered twice");
  all.push_back(std::move(info));
  std::sort(all.begin(), all.end(), [](const AttackInfo& a, const AttackInfo& b) { return a.name < b.name; });
}

const std::vector<AttackInfo>& registered_attacks() { return registry(); }

std::vector<std::string> known_attacks() {
  std::vector<std::string> names;
  for (const auto& a : registry()) names.push_back(a.name);
  return names;
}

std::string attack_choices() { return fmt::format("none | {}", fmt::join(known_attacks(), " | ")); }

const AttackInfo& attack_info(const std::string& name) {
  for (const auto& a : registry())
    if (a.name == name) return a;
  fail("unknown attack '{}': use none, {}", name, fmt::join(known_attacks(), ", "));
}

std::unique_ptr<Attack> build_attack(const AttackSpec& spec) {
  if (spec.kind == "none" || spec.kind == "clean") return nullptr;
  const auto& info = attack_info(spec.kind);
  if (info.has_strength() && !(spec.eps >= 0)) fail("attack {} must be >= 0, got {}", info.strength, spec.eps);
  return info.make(spec);
}

}  // namespace crmt
