#pragma once
#include "crmt/core/config.h"
#include "crmt/train/method.h"

namespace crmt {

// UME-MMA (Li, Zhang, Liu, Yang, Fu, Zhang, Mei, Zhao, 2023, "What makes for robust multi-modal
// models in the face of missing modalities?"):
//   stage 1, uni-modal ensemble (UME): for the first `unimodal_epochs` epochs every modality is
//     trained alone: loss = sum_m CE(phi(m) C(m)^T + b/M), so encoder m and its slice of the head
//     learn from modality m only; the late-fusion head's logits are then the sum (ensemble) of the
//     uni-modal logits;
//   stage 2, missing-modality adaptation (MMA): the fused model is trained with CE on batches in
//     which each sample loses one uniformly chosen modality with probability `missing_rate`.
class UmeMma : public Method {
 public:
  UmeMma(int64_t unimodal_epochs, double missing_rate) : unimodal_epochs_(unimodal_epochs), missing_rate_(missing_rate) {}
  static std::unique_ptr<UmeMma> from_config(const Config& config);
  std::string name() const override { return "ume_mma"; }
  StepResult loss(MultiModalNet& net, const Batch& batch) override;
  void epoch_end(MultiModalNet& net, TrainingContext& context, int64_t epoch) override { epoch_ = epoch + 1; }
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

  bool in_unimodal_stage() const { return epoch_ < unimodal_epochs_; }
  void set_epoch(int64_t epoch) { epoch_ = epoch; }
  // bool [N, M]: which modality each sample lost in the last adaptation step (for tests).
  const at::Tensor& last_dropped() const { return last_dropped_; }

 private:
  int64_t unimodal_epochs_;
  double missing_rate_;
  int64_t epoch_ = 0;
  at::Tensor last_dropped_;
};

}  // namespace crmt
