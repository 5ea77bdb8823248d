#include "crmt/attacks/attack_registry.h"

#include <algorithm>

#include "crmt/core/error.h"
#include "crmt/core/registry.h"

namespace crmt {

namespace {
const std::vector<AttackInfo>& registry() { return Registry<AttackInfo>::instance().entries(); }
}  // namespace

detail::AttackRegistration::AttackRegistration(AttackInfo info) {
  Registry<AttackInfo>::instance().add(std::move(info), "attack");
}

const std::vector<AttackInfo>& registered_attacks() { return registry(); }

std::vector<std::string> known_attacks() { return Registry<AttackInfo>::instance().names(); }

std::string attack_choices() { return fmt::format("none | {}", fmt::join(known_attacks(), " | ")); }

std::string attack_strengths() {
  std::vector<std::string> words;  // in order of first appearance
  for (const auto& a : registry())
    if (a.has_strength() && std::find(words.begin(), words.end(), a.strength) == words.end()) words.push_back(a.strength);
  std::vector<std::string> parts;
  for (const auto& w : words) {
    std::vector<std::string> names;
    for (const auto& a : registry())
      if (a.strength == w) names.push_back(a.name);
    parts.push_back(fmt::format("{} ({})", w, fmt::join(names, ", ")));
  }
  return fmt::format("{}", fmt::join(parts, ", "));
}

namespace {
std::vector<std::string> names_where(bool (*keep)(const AttackInfo&)) {
  std::vector<std::string> names;
  for (const auto& a : registry())
    if (keep(a)) names.push_back(a.name);
  return names;
}
}  // namespace

std::vector<std::string> iterative_attacks() {
  return names_where([](const AttackInfo& a) { return a.iterative; });
}

std::vector<std::string> attacks_with_strength() {
  return names_where([](const AttackInfo& a) { return a.has_strength(); });
}

const AttackInfo& attack_info(const std::string& name) {
  if (const auto* info = Registry<AttackInfo>::instance().find(name)) return *info;
  fail("unknown attack '{}': use none, {}", name, fmt::join(known_attacks(), ", "));
}

std::unique_ptr<Attack> build_attack(const AttackSpec& spec) {
  if (spec.kind == "none" || spec.kind == "clean") return nullptr;
  const auto& info = attack_info(spec.kind);
  if (info.has_strength() && !(spec.eps >= 0)) fail("attack {} must be >= 0, got {}", info.strength, spec.eps);
  return info.make(spec);
}

}  // namespace crmt
