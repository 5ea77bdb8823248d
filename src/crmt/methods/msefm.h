#pragma once
#include "crmt/core/config.h"
#include "crmt/methods/method.h"

namespace crmt {

// MSEFM, MinSim + ExFMem (Tian and Xu, CVPR 2021, "Can audio-visual integration strengthen
// robustness under multimodal attacks?"):
//   MinSim: loss = CE + sim_weight * mean over modality pairs of cos(phi(m), phi(u)) (an audio-visual
//     dissimilarity constraint; the official code adds the batch-mean cosine with weight 1);
//   ExFMem (memory: true): each embedding is replaced by a phi_hat + (1 - a) phi, phi_hat = D A the
//     sparse reconstruction (ISTA, lambda = sparsity) from a memory D of clean training embeddings,
//     before the head. crmt applies it while training only (see docs/methods.md).
struct MsefmSettings {
  double sim_weight = 1.0;
  bool memory = false;
  int64_t memory_size = 256;
  double memory_mix = 0.6, sparsity = 0.1;
  int64_t ista_steps = 50;
  static MsefmSettings from_config(const Config& config);
};

class Msefm : public Method {
 public:
  explicit Msefm(MsefmSettings s) : s_(s) {}
  std::string name() const override { return "msefm"; }
  void setup(MultiModalNet& net, const MultiModalDataset& train) override;
  StepResult loss(MultiModalNet& net, const Batch& batch) override;
  void epoch_end(MultiModalNet& net, Trainer& trainer, int64_t epoch) override;
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

  // Mean over pairs m < u and samples of the cosine similarity of the embeddings.
  static at::Tensor mean_cosine_similarity(const std::vector<at::Tensor>& embeddings);
  // Sparse code A [S, N] of x [N, dim] in dictionary d [dim, S] by ISTA: minimizes
  // 0.5 ||x^T - d A||^2 + lambda |A|_1 with step 1 / ||d||_2^2.
  static at::Tensor ista(const at::Tensor& d, const at::Tensor& x, double lambda, int64_t steps);
  // a * (d A)^T + (1 - a) x
  at::Tensor recall(size_t m, const at::Tensor& x) const;
  void build_memory(MultiModalNet& net, const MultiModalDataset& train);
  const std::vector<at::Tensor>& memory() const { return memory_; }

 private:
  MsefmSettings s_;
  std::vector<at::Tensor> memory_;  // [dim, S] per modality
  uint64_t draws_ = 0;
};

}  // namespace crmt
