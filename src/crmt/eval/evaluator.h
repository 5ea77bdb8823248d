#pragma once
#include <optional>
#include <string>
#include <vector>

#include "crmt/attacks/attack_factory.h"
#include "crmt/data/dataset.h"
#include "crmt/models/multimodal_net.h"

namespace crmt {

// One evaluation: an attack (or none) on a set of modalities ("all" or one name).
struct EvalCase {
  AttackSpec attack;
  std::string modality = "all";
  std::string label() const;
};

struct EvalResult {
  EvalCase evaluated;
  double accuracy = 0;  // in [0, 1]
  int64_t samples = 0;
  double seconds = 0;
};

// Accuracy of `net` on `data` under the case's attack, in batches of `batch_size`.
EvalResult evaluate(MultiModalNet& net, const MultiModalDataset& data, const EvalCase& c, int64_t batch_size,
                    bool show_progress = false);

// The paper's table: clean; FGM and PGD at eps on all modalities and at unimodal_eps (default: eps)
// on each one; each missing.
std::vector<EvalCase> standard_suite(const std::vector<std::string>& modalities, double eps, int pgd_steps,
                                     std::optional<double> unimodal_eps = std::nullopt);

}  // namespace crmt
