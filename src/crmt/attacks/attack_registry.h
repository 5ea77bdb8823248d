#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "crmt/attacks/attack.h"
#include "crmt/core/registry.h"

namespace crmt {

// The threat model of one evaluation, parsed once at the edge (CLI, config, report):
// which registered attack, its strength and iterations, and the seed of random attacks.
struct AttackSpec {
  std::string kind = "none";  // "none" or a registered attack name
  double eps = 0.5;           // strength: what the attack's strength word names (l2 budget, sigma, share)
  int steps = 4;              // iterations of iterative attacks
  uint64_t seed = 0;          // random attacks draw from it
  int restarts = 1;           // random restarts of attacks that make them (apgd)
};

// One registered attack: everything the rest of crmt needs to know about it.
struct AttackInfo {
  std::string name;
  // What `AttackSpec::eps` means for it ("eps", "sigma", "p"), shown in labels; empty when the
  // attack has no strength (missing).
  std::string strength;
  std::string help;
  std::function<std::unique_ptr<Attack>(const AttackSpec&)> make;
  bool iterative = false;  // AttackSpec::steps matters
  bool restarts = false;   // AttackSpec::restarts matters
  bool has_strength() const { return !strength.empty(); }
};

// Attacks register themselves from their own .cpp (CRMT_REGISTER_ATTACK); nothing else lists them.
const std::vector<AttackInfo>& registered_attacks();
std::vector<std::string> known_attacks();
// The attack called `name`; throws crmt::Error listing the known ones.
const AttackInfo& attack_info(const std::string& name);
// For help texts, from the registry: "none | fgm | pgd | ...", "eps (fgm, mea, pgd), sigma (mgn), p (mpm)"
// the attacks whose steps matter, and those with a strength (what a sweep can vary).
std::string attack_choices();
std::string attack_strengths();
std::vector<std::string> iterative_attacks();
std::vector<std::string> attacks_with_strength();

// nullptr for "none" (and "clean"); throws crmt::Error on an unknown kind or a negative strength.
std::unique_ptr<Attack> build_attack(const AttackSpec& spec);

namespace detail {
struct AttackRegistration {
  explicit AttackRegistration(AttackInfo info);
};
}  // namespace detail

// CRMT_REGISTER_ATTACK({"name", "eps", "help", [](const AttackSpec& s) { return ...; }});
#define CRMT_REGISTER_ATTACK(...)                                                               \
  static const ::crmt::detail::AttackRegistration CRMT_REGISTRY_UNIQUE_NAME(attack_registration_)( \
      ::crmt::AttackInfo __VA_ARGS__)

}  // namespace crmt
