#pragma once
#include <cstdint>

namespace crmt {

// libtorch starts with one intra-op thread here; 0 means all hardware cores. Returns the count set.
int configure_threads(int requested);

// Seeds torch's generator (CPU and CUDA) so that runs with the same seed are identical.
void seed_everything(uint64_t seed);

}  // namespace crmt
