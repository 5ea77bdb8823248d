#pragma once
#include <torch/nn/module.h>

namespace crmt {

// Puts a module in eval mode and gives it back in the mode the caller had, also when an exception
// leaves the scope (batch-norm layers then neither use batch statistics nor update them).
class EvalModeGuard {
 public:
  explicit EvalModeGuard(torch::nn::Module& module) : module_(module), was_training_(module.is_training()) {
    module_.eval();
  }
  ~EvalModeGuard() { module_.train(was_training_); }
  EvalModeGuard(const EvalModeGuard&) = delete;
  EvalModeGuard& operator=(const EvalModeGuard&) = delete;

 private:
  torch::nn::Module& module_;
  bool was_training_;
};

}  // namespace crmt
