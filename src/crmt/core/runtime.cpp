#include "crmt/core/runtime.h"

#include <thread>

#include "crmt/core/error.h"

namespace crmt {

int configure_threads(int requested) {
  if (requested < 0) fail("--threads must be 0 (all cores) or positive, got {}", requested);
  int n = requested == 0 ? static_cast<int>(std::thread::hardware_concurrency()) : requested;
  if (n <= 0) n = 1;
  at::set_num_threads(n);
  return n;
}

void seed_everything(uint64_t seed) { torch::manual_seed(seed); }

}  // namespace crmt
