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

std::vector<std::string> iterative_attacks() {
  std::vector<std::string> names;
  for (const auto& a : registry())
    if (a.iterative) names.push_back(a.name);
  return names;
}

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
