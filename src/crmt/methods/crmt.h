#pragma once
#include <string>

#include "crmt/core/config.h"
#include "crmt/train/method.h"

namespace crmt {

class OrthogonalHeadImpl;

// Certifiable Robust Multi-modal Training (section 3.4) on an orthogonal head.
//   step 1: cross-entropy + rho * L1 (Eq. 12), every parameter trained;
//   step 2: encoders and W~ fixed, the class weights a(m) raise the mean certified bound r(x) of
//           Eq. 10 (L2 = -mean r(x), runner-up j = the largest non-true logit), with empirical
//           Lipschitz constants of the uni-modal scores estimated on the training set first.
// With `iterations` > 1, step 2 also runs after each of the first iterations-1 equal shares of the
// epochs (appendix 8.3); the last step 2 runs on the best checkpoint. The ablations are settings:
// OJT (rho 0, no step 2), step 1 only (no step 2), step 2 only (rho 0).
//
// What the official code does differently is a setting each (configs/crmt_jt_official.yaml,
// docs/fidelity.md): batch norm in training mode during step 2, its Lipschitz table, its rule for
// the number of step-2 epochs, step 2 from the last epoch's weights, step-2 epochs competing with
// the main ones on validation accuracy.
enum class Step2BatchNorm { frozen, train };
enum class Step2Lipschitz { unimodal, official };
enum class Step2From { best, last };
enum class Step2Keep { final, best_validation };

struct CrmtSettings {
  std::string name = "crmt_jt";
  double rho = 2.0;
  double l1_floor = 1e-5;
  bool step2 = true;
  int64_t step2_epochs = 5;
  double step2_lr = 3e-4;
  double step2_momentum = 0.9;
  double step2_weight_decay = 1e-2;
  int64_t iterations = 1;
  int64_t lipschitz_samples = 2000;
  bool step2_epochs_official_rule = false;  // train.epochs / 3 - 1 instead of step2_epochs
  Step2BatchNorm step2_batch_norm = Step2BatchNorm::frozen;
  Step2Lipschitz lipschitz_estimator = Step2Lipschitz::unimodal;
  Step2From step2_from = Step2From::best;
  Step2Keep step2_keep = Step2Keep::final;
  static CrmtSettings from_config(const Config& config);
};

class Crmt : public Method {
 public:
  explicit Crmt(CrmtSettings settings) : s_(std::move(settings)) {}
  std::string name() const override { return s_.name; }
  void setup(MultiModalNet& net, const MultiModalDataset& train) override;
  StepResult loss(MultiModalNet& net, const Batch& batch) override;
  void epoch_end(MultiModalNet& net, TrainingContext& context, int64_t epoch) override;
  FinalStage finish(MultiModalNet& net, TrainingContext& context) override;

  // Step 2 alone: estimates the Lipschitz constants on the training split and optimizes a(m) for
  // `epochs` epochs; with `compete`, each epoch's result competes for the best checkpoint.
  void run_step2(MultiModalNet& net, TrainingContext& context, const std::string& label, int64_t epochs,
                 bool compete = false);
  // Step-2 epochs of the final stage for a run of `train_epochs` main epochs.
  int64_t final_step2_epochs(int64_t train_epochs) const;

 private:
  OrthogonalHeadImpl& head(MultiModalNet& net) const;
  CrmtSettings s_;
};

}  // namespace crmt
