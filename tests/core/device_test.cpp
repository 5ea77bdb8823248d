#include "crmt/core/device.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace crmt {
namespace {

TEST(Device, ResolvesCpuAndAuto) {
  EXPECT_TRUE(resolve_device("cpu").is_cpu());
  EXPECT_EQ(resolve_device("auto").is_cuda(), cuda_available());
}

TEST(Device, MalformedSpecsNameTheKeyAndTheValue) {
  for (const std::string bad : {"gpu", "cuda:", "cuda:x", "cuda:-1", "cuda0", "CPU", ""}) {
    const auto message = test::error_of([&] { resolve_device(bad, "--device"); });
    EXPECT_NE(message.find("--device: '" + bad + "' is not a device"), std::string::npos) << bad << ": " << message;
  }
}

TEST(Device, AGpuThatIsNotThereIsAClearError) {
  if (cuda_available()) {
    EXPECT_TRUE(resolve_device("cuda").is_cuda());
    EXPECT_NE(test::error_of([] { resolve_device("cuda:99"); }).find("asks for GPU 99"), std::string::npos);
  } else {
    const auto message = test::error_of([] { resolve_device("cuda:0"); });
    EXPECT_NE(message.find("device: 'cuda:0' asks for a GPU"), std::string::npos) << message;
    EXPECT_NE(message.find("--device cpu"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace crmt
