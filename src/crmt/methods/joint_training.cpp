#include "crmt/methods/joint_training.h"
#include "crmt/train/method_registry.h"

namespace crmt {

CRMT_REGISTER_METHOD({"jt", "joint training: cross-entropy of the fused logits",
                      [](const Config&) -> std::unique_ptr<Method> { return std::make_unique<JointTraining>(); }});

StepResult JointTraining::loss(MultiModalNet& net, const Batch& batch) {
  StepResult r;
  r.output = net->forward(batch);
  r.logits = r.output.logits;
  r.labels = batch.labels;
  r.loss = torch::nn::functional::cross_entropy(r.logits, batch.labels);
  return r;
}

}  // namespace crmt
