// Every config shipped under configs/ loads: known keys, right types, a registered method and source.
#include <gtest/gtest.h>

#include <filesystem>

#include "crmt/core/config.h"
#include "crmt/data/source_registry.h"

namespace crmt {
namespace {

TEST(ShippedConfigs, EveryConfigLoadsAndNamesARegisteredSource) {
  namespace fs = std::filesystem;
  int checked = 0;
  for (const auto& entry : fs::recursive_directory_iterator(fs::path(CRMT_SOURCE_DIR) / "configs")) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    Config config;
    ASSERT_NO_THROW(config = Config::load(entry.path().string()));
    EXPECT_NO_THROW(source_info(config.str("data.name")));
    ++checked;
  }
  EXPECT_GE(checked, 4 * 15) << "the recipes of the four datasets and the embedded ones";
}

}  // namespace
}  // namespace crmt
