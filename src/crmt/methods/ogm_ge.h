#pragma once
#include "crmt/core/config.h"
#include "crmt/train/method.h"

namespace crmt {

// OGM-GE, on-the-fly gradient modulation with generalization enhancement (Peng, Wei, Deng, Wang, Hu,
// CVPR 2022). Loss: CE on the fused logits. After backward, each modality's score
// s_m = sum_i softmax(phi(m) C(m)^T + b/M)[i, y_i]; a modality whose ratio s_m / min_{u != m} s_u
// exceeds 1 (the dominant one, for two modalities) has its encoder gradients multiplied by
//   k = 1 - tanh(alpha * ratio)         (coefficient: code; the paper's Eq. 10 and the current code)
//   k = 1 - tanh(alpha * (ratio - 1))   (coefficient: offset; the repository's first release)
// the others by 1; with GE every modulated tensor also gets N(0, std(g)^2) noise, std taken from the
// tensor's own unmodulated gradient. Only between modulation_start and modulation_end (inclusive).
// Distributed: the scores are summed over every rank's shard (the global batch's), and the noise of
// a step comes from a generator seeded by (seed, step), the same on every rank; the averaged
// gradients then stay identical everywhere, and equal one process's on the global batch.
struct OgmGeSettings {
  double alpha = 0.8;
  int64_t start = 0, end = 50;
  bool ge = true;
  bool offset = false;           // coefficient form, see above
  std::string modulate = "conv";  // conv | weights | all
  uint64_t seed = 0;              // the run's seed: GE's noise of step k is drawn from (seed, k)
  static OgmGeSettings from_config(const Config& config);
};

class OgmGe : public Method {
 public:
  explicit OgmGe(OgmGeSettings s) : s_(std::move(s)) {}
  std::string name() const override { return "ogm_ge"; }
  void setup(MultiModalNet& net, const MultiModalDataset& train) override;
  StepResult loss(MultiModalNet& net, const Batch& batch) override;
  void before_step(MultiModalNet& net, const Batch& batch, const StepResult& step) override;
  void epoch_end(MultiModalNet& net, TrainingContext& context, int64_t epoch) override { epoch_ = epoch + 1; }
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

  // The encoder tensors of modality m that modulation touches.
  std::vector<at::Tensor> modulated_parameters(MultiModalNet& net, size_t m) const;
  // Per-modality scores and coefficients of the last loss() (for tests and logs).
  const std::vector<double>& last_scores() const { return scores_; }
  const std::vector<double>& last_coefficients() const { return coefficients_; }
  void set_epoch(int64_t epoch) { epoch_ = epoch; }
  // The coefficient for a ratio (1 when ratio <= 1).
  double coefficient(double ratio) const;

 private:
  OgmGeSettings s_;
  int64_t epoch_ = 0;
  uint64_t noise_draws_ = 0;  // steps that drew GE noise (resumed with the run)
  std::vector<double> scores_, coefficients_;
};

}  // namespace crmt
