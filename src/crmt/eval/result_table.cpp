#include "crmt/eval/result_table.h"

#include <nlohmann/json.hpp>

namespace crmt {

Table results_table(const std::vector<RunResults>& runs) {
  Table t;
  t.header = {"evaluation"};
  for (const auto& r : runs) t.header.push_back(r.name + " acc %");
  if (runs.empty()) return t;
  for (size_t i = 0; i < runs[0].results.size(); ++i) {
    std::vector<std::string> row{runs[0].results[i].evaluated.label()};
    for (const auto& r : runs) row.push_back(i < r.results.size() ? fmt::format("{:.2f}", 100 * r.results[i].accuracy) : "");
    t.rows.push_back(row);
  }
  return t;
}

nlohmann::json results_json(const std::vector<RunResults>& runs) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& run : runs) {
    nlohmann::json items = nlohmann::json::array();
    for (const auto& r : run.results)
      items.push_back({{"label", r.evaluated.label()},
                       {"attack", r.evaluated.attack.kind},
                       {"modality", r.evaluated.modality},
                       {"eps", r.evaluated.strength()},
                       {"steps", r.evaluated.steps()},
                       {"restarts", r.evaluated.restarts()},
                       {"accuracy", r.accuracy},
                       {"samples", r.samples},
                       {"seconds", r.seconds}});
    out.push_back({{"run", run.name}, {"results", items}});
  }
  return out;
}

}  // namespace crmt
