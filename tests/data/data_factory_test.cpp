#include "crmt/data/data_factory.h"

#include <gtest/gtest.h>

#include "crmt/core/error.h"
#include "test_util.h"

namespace crmt {
namespace {

TEST(DataFactory, ModalitiesCanBeSelectedAndReordered) {
  auto cfg = test::synthetic_config(test::temp_dir("select"), 3, 1);
  auto all = load_data(cfg, false);
  cfg.set("data.modalities", "[m2, m0]");
  auto some = load_data(cfg, false);
  for (const auto* split : {&some.train, &some.val, &some.test}) {
    EXPECT_EQ(split->modality_names(), (std::vector<std::string>{"m2", "m0"}));
    split->validate();
  }
  EXPECT_TRUE(torch::equal(some.test.all().inputs[0], all.test.all().inputs[2]));
  EXPECT_TRUE(torch::equal(some.test.labels, all.test.labels));
  cfg.set("data.modalities", "[flow]");
  try {
    load_data(cfg, false);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'flow'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace crmt
