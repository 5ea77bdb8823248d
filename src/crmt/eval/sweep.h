#pragma once
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "crmt/data/dataset.h"
#include "crmt/models/multimodal_net.h"
#include "crmt/core/table.h"

namespace crmt {

// Accuracy against attack strength: one row per attacked set ("all" and each modality), one
// column per strength. Figures 1 and 4 of the paper.
struct Sweep {
  std::string attack;                  // fgm | pgd | mgn | mpm | mea
  std::vector<double> strengths;
  std::vector<std::string> targets;    // "all", then modality names
  std::vector<std::vector<double>> accuracy;  // [target][strength] in [0, 1]
  int64_t samples = 0;
};

// Runs the sweep in one pass over the data. The clean forward pass is computed once per batch and
// used for every strength 0; for FGM the gradient at the clean input, which every strength shares,
// is computed once per batch and target set, so each extra strength costs one forward pass.
Sweep sweep_attack(MultiModalNet& net, const MultiModalDataset& data, const std::string& attack,
                   const std::vector<double>& strengths, int64_t batch_size, int pgd_steps = 4,
                   bool show_progress = false);

Table sweep_table(const Sweep& sweep);
nlohmann::json sweep_json(const Sweep& sweep);

}  // namespace crmt
