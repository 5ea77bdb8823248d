#include "crmt/methods/official_lipschitz.h"

#include <torch/autograd.h>

#include "crmt/core/error.h"
#include "crmt/core/precision.h"
#include "crmt/models/eval_mode_guard.h"

namespace crmt {

at::Tensor official_lipschitz_table(MultiModalNet& net, const MultiModalDataset& data, int64_t max_samples,
                                    int64_t batch_size) {
  const Fp32Scope fp32;
  const int64_t M = static_cast<int64_t>(net->num_modalities());
  const int64_t K = net->num_classes();
  const int64_t n = max_samples > 0 ? std::min(data.size(), max_samples) : data.size();
  if (n <= 0) fail("the official Lipschitz table needs at least one sample ({} is empty)", data.source);
  // The official code zeroes `audio.grad`, whichever modality it is reading.
  int64_t zeroed = M - 1;
  for (int64_t m = 0; m < M; ++m)
    if (net->specs()[static_cast<size_t>(m)].name == "audio") zeroed = m;
  EvalModeGuard eval(*net);
  auto table = torch::zeros({M, K}, torch::kDouble);
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t b = std::min(batch_size, n - start);
    auto batch = data.batch(torch::arange(start, start + b, torch::kLong));
    std::vector<at::Tensor> inputs;
    for (auto& x : net->align(batch)) inputs.push_back(x.detach().clone().requires_grad_(true));
    auto logits = net->forward(inputs).logits;
    std::vector<at::Tensor> accumulated(static_cast<size_t>(M));
    for (int64_t t = 0; t < K; ++t) {
      auto grads = torch::autograd::grad({logits.select(1, t).sum()}, inputs, {}, /*retain_graph=*/true,
                                         /*create_graph=*/false, /*allow_unused=*/true);
      for (int64_t m = 0; m < M; ++m) {
        if (m == zeroed) continue;  // read after zeroing: 0, the table's initial value
        auto& acc = accumulated[static_cast<size_t>(m)];
        const auto& g = grads[static_cast<size_t>(m)];
        if (!g.defined()) continue;
        acc = acc.defined() ? acc + g : g.clone();
        const double largest = acc.flatten(1).norm(2, 1).max().item<double>();
        table[m][t] = std::max(table[m][t].item<double>(), largest);
      }
    }
  }
  return table;
}

}  // namespace crmt
