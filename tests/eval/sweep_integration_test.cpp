#include "crmt/eval/sweep.h"

#include <gtest/gtest.h>

#include "crmt/core/error.h"
#include "crmt/data/data_factory.h"
#include "crmt/eval/evaluator.h"
#include "test_util.h"

namespace crmt {
namespace {

TEST(Sweep, MatchesOneEvaluationPerStrength) {
  auto cfg = test::synthetic_config(test::temp_dir("sweep"), 2, 3);
  auto data = load_data(cfg, false);
  auto net = test::train_on(cfg, data);
  const std::vector<double> eps = {0.0, 0.5, 1.5};
  for (const std::string attack : {"fgm", "pgd"}) {
    auto sweep = sweep_attack(net, data.test, attack, eps, 64);
    ASSERT_EQ(sweep.targets, (std::vector<std::string>{"all", "m0", "m1"}));
    for (size_t t = 0; t < sweep.targets.size(); ++t)
      for (size_t e = 0; e < eps.size(); ++e) {
        EvalCase c{AttackSpec{eps[e] == 0 ? "none" : attack, eps[e], 4}, sweep.targets[t]};
        EXPECT_NEAR(sweep.accuracy[t][e], evaluate(net, data.test, c, 64).accuracy, 1e-9)
            << attack << " " << sweep.targets[t] << " eps " << eps[e];
      }
    // Accuracy falls along each row.
    for (const auto& row : sweep.accuracy) EXPECT_LE(row.back(), row.front());
  }
  EXPECT_THROW(sweep_attack(net, data.test, "missing", eps, 64), Error);
}

}  // namespace
}  // namespace crmt
