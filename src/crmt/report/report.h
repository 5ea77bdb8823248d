#pragma once
#include <string>
#include <utility>
#include <vector>

#include "crmt/report/analysis.h"
#include "crmt/report/options.h"
#include "crmt/report/paper_figures.h"  // file_stem, used by callers to find a run's files

namespace crmt {

struct ReportSummary {
  std::string index_html;             // path of the page
  std::vector<std::string> tables;    // paths of the table files
  std::vector<std::string> figures;   // stems of the figures (under out_dir/figures)
  std::vector<std::string> warnings;  // one line each (also printed on stderr)
  bool figures_rendered = false;      // every figure has its PNG and SVG
};

// Writes the folder for already analysed runs.
ReportSummary write_report(const std::vector<RunAnalysis>& runs, const ReportOptions& options);

// Loads each (name, checkpoint), analyses it and writes the folder. Throws crmt::Error for bad
// names (empty, repeated), unreadable checkpoints, and, with require_figures, missing figures (after
// the tables and index.html are written).
ReportSummary write_report(const std::vector<std::pair<std::string, std::string>>& runs, const ReportOptions& options);

}  // namespace crmt
