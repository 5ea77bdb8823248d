#pragma once
// Shared set-up for the baseline method tests: a tiny synthetic problem and model.
#include <torch/torch.h>

#include "crmt/data/data_factory.h"
#include "crmt/train/method_registry.h"
#include "crmt/models/model_factory.h"
#include "crmt/train/trainer.h"
#include "test_util.h"

namespace crmt::test {

struct Tiny {
  Config config;
  DataSplits data;
  MultiModalNet net{nullptr};
  Batch batch;
};

// Synthetic 2-modality data, MLP encoders, `method` selected, a batch of 32 training samples.
inline Tiny tiny(const std::string& method, const std::string& dir, std::vector<std::string> overrides = {}) {
  Tiny t{synthetic_config(temp_dir(dir), 2, 1), {}, nullptr, {}};
  t.config.set("train.method", method);
  for (const auto& kv : overrides) {
    auto eq = kv.find('=');
    t.config.set(kv.substr(0, eq), kv.substr(eq + 1));
  }
  t.data = load_data(t.config, false);
  torch::manual_seed(0);
  t.net = build_model(t.config, t.data.train.specs, t.data.train.num_classes());
  t.batch = t.data.train.batch(torch::arange(32, torch::kLong));
  return t;
}

inline std::vector<torch::Tensor> grads_of(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> g;
  for (auto& p : params) g.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
  return g;
}

}  // namespace crmt::test
