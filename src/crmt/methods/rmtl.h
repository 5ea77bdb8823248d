#pragma once
#include "crmt/core/config.h"
#include "crmt/train/method.h"

namespace crmt {

// RMTL (Ma et al., CVPR 2022, "Are multimodal transformers robust to missing modality?"): multi-task
// training on the full-modal task plus one modality-specific task per modality, in which every other
// modality is missing; all tasks share the model:
//   loss = CE(f(x)) + w * sum_m CE(f(x with only modality m present)).
class Rmtl : public Method {
 public:
  explicit Rmtl(double unimodal_weight) : w_(unimodal_weight) {}
  static std::unique_ptr<Rmtl> from_config(const Config& config);
  std::string name() const override { return "rmtl"; }
  StepResult loss(MultiModalNet& net, const Batch& batch) override;
  // The modality-specific batches of the last loss() (for tests).
  const std::vector<Batch>& last_tasks() const { return last_tasks_; }

 private:
  double w_;
  std::vector<Batch> last_tasks_;
};

}  // namespace crmt
