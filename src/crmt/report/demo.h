#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "crmt/core/table.h"

namespace crmt {

// The demo: JT and CRMT-JT trained on the embedded data, evaluated on the paper's table, certified,
// and analysed for a report. What `crmt demo` (and the README's first command) runs.
struct DemoOptions {
  std::string out = "runs/demo", data_root = "data/embedded";
  int64_t epochs = 4, train_size = 20000, test_size = 2000, lipschitz_samples = 1000;
  double eps = 0.5;
  std::vector<double> radii = {0.05, 0.1};
  std::string device = "auto";  // cpu | cuda | cuda:N | auto
};

struct DemoResult {
  Table table;              // one row per evaluation, certified accuracy and eta ratio; one column per run
  std::string index_html;   // the report's page
  double minutes = 0;
};

// Trains both runs into <out>/<method>, writes <out>/results.md, results.json and the report in
// <out>/report.
DemoResult run_demo(const DemoOptions& options);

}  // namespace crmt
