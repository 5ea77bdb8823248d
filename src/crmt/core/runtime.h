#pragma once
#include <cstdint>

namespace crmt {

// Sets the intra-op threads of LibTorch and of the BLAS under it. 0 means OMP_NUM_THREADS when
// set, else all hardware cores (libtorch's own default here is 1). Returns the count set.
int configure_threads(int requested);

// Keeps large freed blocks in the process for reuse instead of returning them to the kernel after
// every tensor (glibc's default), which makes CPU work page-fault-bound. Call once at start.
void configure_allocator();

// Seeds torch's generator (CPU and CUDA) so that runs with the same seed are identical.
void seed_everything(uint64_t seed);

}  // namespace crmt
