#include "crmt/methods/joint_training.h"

namespace crmt {

StepResult JointTraining::loss(MultiModalNet& net, const Batch& batch) {
  StepResult r;
  r.output = net->forward(batch);
  r.logits = r.output.logits;
  r.labels = batch.labels;
  r.loss = torch::nn::functional::cross_entropy(r.logits, batch.labels);
  return r;
}

}  // namespace crmt
