#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "crmt/attacks/attack_registry.h"
#include "crmt/data/dataset.h"
#include "crmt/models/multimodal_net.h"

namespace crmt {

// One evaluation: an attack (or none) on a set of modalities ("all" or one name). Results are keyed
// by these fields; label() is only for people ("pgd eps=0.5 on audio", words from the registry).
struct EvalCase {
  AttackSpec attack;
  std::string modality = "all";
  std::string label() const;
  // The attack's strength and iterations where they mean something for it, 0 otherwise.
  double strength() const;
  int steps() const;
  int restarts() const;  // of attacks that restart, 0 otherwise
  // Same attack kind, strength (when the attack has one), iterations (when it iterates) and modalities.
  bool same_as(const EvalCase& other) const;
};

struct EvalResult {
  EvalCase evaluated;
  double accuracy = 0;  // in [0, 1]
  int64_t samples = 0;
  double seconds = 0;
};

// How an (attacked) batch is classified, given the index of its first sample in the split: int64 [N]
// class indices, -1 = abstain (counted wrong). Empty = the model's argmax. `crmt eval --smoothed`
// passes the smoothed classifier's PREDICT; the attacks still attack the model itself.
using Classifier = std::function<at::Tensor(MultiModalNet& net, const Batch& batch, int64_t first_index)>;

// Accuracy of `net` (or of `classify`) on `data` under the case's attack, in batches of `batch_size`
// read by `workers` threads (files; sets in memory ignore it).
EvalResult evaluate(MultiModalNet& net, const MultiModalDataset& data, const EvalCase& c, int64_t batch_size,
                    bool show_progress = false, int workers = 0, const Classifier& classify = {});

// The paper's table: clean; FGM and PGD at eps on all modalities and at unimodal_eps (default: eps)
// on each one; each missing.
std::vector<EvalCase> standard_suite(const std::vector<std::string>& modalities, double eps, int pgd_steps,
                                     std::optional<double> unimodal_eps = std::nullopt);
// The strong evaluation added to it: APGD (cross-entropy, then DLR on what survived) with
// `iterations` x `restarts`, at eps on all modalities and at unimodal_eps (default: eps) on each.
std::vector<EvalCase> strong_suite(const std::vector<std::string>& modalities, double eps, int iterations,
                                   int restarts, std::optional<double> unimodal_eps = std::nullopt);

}  // namespace crmt
