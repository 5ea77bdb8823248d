#pragma once
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "crmt/eval/evaluator.h"
#include "crmt/core/table.h"

namespace crmt {

// Evaluation results of one named run (e.g. "JT"), in suite order.
struct RunResults {
  std::string name;
  std::vector<EvalResult> results;
};

// One row per evaluation case, one accuracy column (in %) per run.
Table results_table(const std::vector<RunResults>& runs);
nlohmann::json results_json(const std::vector<RunResults>& runs);

}  // namespace crmt
