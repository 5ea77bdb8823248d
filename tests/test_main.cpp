#include <gtest/gtest.h>

#include "crmt/core/runtime.h"
#include "test_util.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // ctest runs two tests at once with OMP_NUM_THREADS=1 (tests/CMakeLists.txt): one thread each,
  // in LibTorch and in OpenBLAS, so that no core is oversubscribed. Run by hand: all cores.
  crmt::configure_threads(0);
  crmt::configure_allocator();
  const int failed = RUN_ALL_TESTS();
  crmt::test::remove_temp_dirs();
  return failed;
}
