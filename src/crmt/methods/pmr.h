#pragma once
#include "crmt/core/config.h"
#include "crmt/train/method.h"

namespace crmt {

// PMR, prototypical modal rebalance (Fan, Xu, Wang, Wang, Guo, CVPR 2023). Per modality, class
// prototypes c_k(m) = mean of phi(m) over the training samples of class k (from a share of the
// training set, blended with the previous prototypes by momentum after every epoch). Prototype
// logits are -||phi(m) - c_k(m)||; the prototype-based score of m is sum_i softmax(.)[i, y_i], and
// every modality whose score is below the best one (the slow learner) gets
//   alpha * CE(-distances(m), y)   (the prototypical cross-entropy)
// added to CE of the fused logits, between modulation_start and modulation_end. Optionally, for the
// first entropy_epochs epochs, -mu * entropy of the dominant modality's prototype distribution.
// Distributed: the scores are summed over the ranks (the slow learner is the global batch's), and
// every rank computes the same prototypes from the same samples.
struct PmrSettings {
  double alpha = 1.0, momentum = 0.2, proto_fraction = 0.1, entropy_weight = 0.0;
  int64_t start = 0, end = 70, entropy_epochs = 0;
  static PmrSettings from_config(const Config& config);
};

class Pmr : public Method {
 public:
  explicit Pmr(PmrSettings s) : s_(s) {}
  std::string name() const override { return "pmr"; }
  void setup(MultiModalNet& net, const MultiModalDataset& train) override;
  StepResult loss(MultiModalNet& net, const Batch& batch) override;
  void epoch_end(MultiModalNet& net, TrainingContext& context, int64_t epoch) override;
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

  // Class means [K, dim] per modality of the embeddings (eval mode) of `data`'s samples at `indices`.
  static std::vector<at::Tensor> class_means(MultiModalNet& net, const MultiModalDataset& data, const at::Tensor& indices,
                                             int64_t batch_size);
  // Recomputes the prototypes from the training split (momentum-blended unless `first`).
  void update_prototypes(MultiModalNet& net, const MultiModalDataset& train, bool first);
  // -||phi - c_k|| [N, K]
  static at::Tensor prototype_logits(const at::Tensor& embedding, const at::Tensor& prototypes);
  const std::vector<at::Tensor>& prototypes() const { return prototypes_; }
  const std::vector<double>& last_coefficients() const { return coefficients_; }
  const std::vector<double>& last_scores() const { return scores_; }
  void set_epoch(int64_t epoch) { epoch_ = epoch; }

 private:
  PmrSettings s_;
  std::vector<at::Tensor> prototypes_;
  std::vector<double> scores_, coefficients_;
  int64_t epoch_ = 0;
  uint64_t draws_ = 0;
};

}  // namespace crmt
