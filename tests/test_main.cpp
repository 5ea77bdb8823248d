#include <gtest/gtest.h>

#include <ATen/Parallel.h>

#include "test_util.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // Tests are small; two threads match the CI machine and keep timings stable.
  at::set_num_threads(2);
  const int failed = RUN_ALL_TESTS();
  crmt::test::remove_temp_dirs();
  return failed;
}
