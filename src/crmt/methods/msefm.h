#pragma once
#include "crmt/core/config.h"
#include "crmt/train/method.h"

namespace crmt {

// MSEFM, MinSim + ExFMem (Tian and Xu, CVPR 2021, "Can audio-visual integration strengthen
// robustness under multimodal attacks?"):
//   MinSim: loss = CE + sim_weight * mean over modality pairs of cos(phi(m), phi(u)) (an audio-visual
//     dissimilarity constraint; the official code adds the batch-mean cosine with weight 1);
//   ExFMem (memory: true): each embedding is replaced by a phi_hat + (1 - a) phi, phi_hat = D A the
//     sparse reconstruction (ISTA, lambda = sparsity) from a memory D of clean training embeddings,
//     before the head. The memory is the model's FeatureMemory filter (built by build_model), so it
//     acts in training and at evaluation; this method fills it from the training set.
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
  void epoch_end(MultiModalNet& net, TrainingContext& context, int64_t epoch) override;
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

  // Mean over pairs m < u and samples of the cosine similarity of the embeddings.
  static at::Tensor mean_cosine_similarity(const std::vector<at::Tensor>& embeddings);
  // Refills the model's feature memory with memory_size random clean training embeddings per
  // modality (encoder outputs, columns scaled to unit norm).
  void build_memory(MultiModalNet& net, const MultiModalDataset& train);

 private:
  MsefmSettings s_;
  uint64_t draws_ = 0;
};

}  // namespace crmt
