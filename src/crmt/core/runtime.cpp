#include "crmt/core/runtime.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <malloc.h>

#include <cstdlib>
#include <thread>

#include "crmt/core/error.h"

namespace crmt {
namespace {

// The thread count a request of 0 stands for: OMP_NUM_THREADS when it is set (as in PyTorch, so
// that a scheduler or a test runner can cap every process), else all hardware cores.
int default_threads() {
  if (const char* env = std::getenv("OMP_NUM_THREADS"); env && *env) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (*end != '\0' || n < 1) fail("OMP_NUM_THREADS must be a positive integer, got '{}'", env);
    return static_cast<int>(n);
  }
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  return cores > 0 ? cores : 1;
}

// LibTorch's CPU linear algebra (SVD, eigenvalues, some matmuls) goes through the system BLAS.
// Debian's OpenBLAS keeps its own pool of one thread per core, which set_num_threads does not
// reach: left alone, a "--threads 1" run still spins a second core.
void set_blas_threads(int n) {
  using SetThreads = void (*)(int);
  if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(n);
}

}  // namespace

int configure_threads(int requested) {
  if (requested < 0) fail("--threads must be 0 (all cores) or positive, got {}", requested);
  const int n = requested == 0 ? default_threads() : requested;
  at::set_num_threads(n);
  set_blas_threads(n);
  return n;
}

void configure_allocator() {
  // LibTorch on the CPU frees and allocates tensors of tens of MB per operation (activations,
  // gradients). glibc serves every block over its mmap threshold (at most 32 MB, adjusted on the
  // fly) with fresh pages from the kernel and unmaps it when freed, so each operation pays page
  // faults again: a third of a ResNet certificate's time here (96 s -> 65 s without). Blocks up to
  // 1 GiB now come from the heap and stay there for reuse.
  constexpr int kKeep = 1 << 30;
  mallopt(M_MMAP_THRESHOLD, kKeep);
  mallopt(M_TRIM_THRESHOLD, kKeep);
}

void seed_everything(uint64_t seed) { at::manual_seed(seed); }

}  // namespace crmt
