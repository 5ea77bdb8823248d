#include <CLI/CLI.hpp>

#include "commands.h"
#include "crmt/core/error.h"

namespace crmt::cli {

void add_bound_options(CLI::App& command, std::string& bound, std::string& intermediate) {
  command.add_option("--bound", bound,
                     "how radii are bounded: lipschitz-empirical (an estimate, as the paper) | lipschitz-guaranteed "
                     "(sound, global) | crown (sound, bound propagation around each sample) | smoothing (randomized smoothing: "
                     "sound with probability 1 - alpha, for any model; docs/certify.md); "
                     "overrides --lipschitz");
  command
      .add_option("--intermediate", intermediate,
                  "--bound crown: pre-activation bounds refined by bound propagation (crown, tight, slow on CNNs) "
                  "or by intervals (interval, fast)")
      ->capture_default_str();
}

bool resolve_bound_option(const std::string& bound, std::string& lipschitz) {
  if (bound.empty()) return false;
  if (bound == "crown") return true;
  const std::string prefix = "lipschitz-";
  if (bound.rfind(prefix, 0) != 0)
    fail("--bound: unknown bound '{}' (lipschitz-empirical, lipschitz-guaranteed, crown or smoothing)", bound);
  lipschitz = bound.substr(prefix.size());
  return false;
}

}  // namespace crmt::cli
