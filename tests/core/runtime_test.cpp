// configure_threads: the count LibTorch and OpenBLAS use, and where "0" takes it from.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <thread>

#include <ATen/Parallel.h>

#include "crmt/core/runtime.h"

namespace crmt {
namespace {

// Sets OMP_NUM_THREADS for one test and puts back what was there, threads included.
class ThreadEnv {
 public:
  explicit ThreadEnv(const char* value) : threads_(at::get_num_threads()) {
    if (const char* old = std::getenv("OMP_NUM_THREADS")) saved_ = old;
    if (value) setenv("OMP_NUM_THREADS", value, 1);
    else unsetenv("OMP_NUM_THREADS");
  }
  ~ThreadEnv() {
    if (saved_) setenv("OMP_NUM_THREADS", saved_->c_str(), 1);
    else unsetenv("OMP_NUM_THREADS");
    configure_threads(threads_);
  }

 private:
  std::optional<std::string> saved_;
  int threads_;
};

int blas_threads() {
  using GetThreads = int (*)();
  auto get = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  return get ? get() : -1;
}

TEST(ConfigureThreads, AnExplicitCountReachesLibTorchAndOpenBlas) {
  ThreadEnv env("1");
  EXPECT_EQ(configure_threads(2), 2);
  EXPECT_EQ(at::get_num_threads(), 2);
  if (blas_threads() != -1) EXPECT_EQ(blas_threads(), 2);  // -1: not linked against OpenBLAS
  EXPECT_EQ(configure_threads(1), 1);
  EXPECT_EQ(at::get_num_threads(), 1);
  if (blas_threads() != -1) EXPECT_EQ(blas_threads(), 1);
}

TEST(ConfigureThreads, ZeroMeansOmpNumThreadsWhenSet) {
  ThreadEnv env("3");
  EXPECT_EQ(configure_threads(0), 3);
  EXPECT_EQ(at::get_num_threads(), 3);
}

TEST(ConfigureThreads, ZeroWithoutOmpNumThreadsMeansEveryCore) {
  ThreadEnv env(nullptr);
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  EXPECT_EQ(configure_threads(0), cores > 0 ? cores : 1);
}

TEST(ConfigureThreads, BadCountsAreRefused) {
  ThreadEnv env("two");
  EXPECT_THROW(configure_threads(0), std::exception);
  EXPECT_THROW(configure_threads(-1), std::exception);
  setenv("OMP_NUM_THREADS", "0", 1);
  EXPECT_THROW(configure_threads(0), std::exception);
  EXPECT_EQ(configure_threads(1), 1);  // an explicit count does not read the variable
}

}  // namespace
}  // namespace crmt
