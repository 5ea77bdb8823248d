#include "crmt/train/batch_norm_recalibration.h"

#include <torch/nn/modules/batchnorm.h>

#include "crmt/core/error.h"
#include "crmt/core/progress.h"
#include "crmt/data/loader.h"

namespace crmt {

int64_t count_batch_norm_layers(MultiModalNet& net) {
  int64_t n = 0;
  for (const auto& module : net->modules(/*include_self=*/false))
    if (module->as<torch::nn::BatchNorm1d>() || module->as<torch::nn::BatchNorm2d>() ||
        module->as<torch::nn::BatchNorm3d>())
      ++n;
  return n;
}

int64_t recalibrate_batch_norm(MultiModalNet& net, const MultiModalDataset& data, int64_t passes, int64_t batch_size,
                               uint64_t seed, const std::string& label, bool show_progress, int workers) {
  if (passes < 0) fail("train.bn_recalibrate_epochs must be >= 0, got {}", passes);
  if (batch_size <= 1) fail("batch-norm re-estimation needs batches of at least 2 samples, got {}", batch_size);
  const int64_t layers = count_batch_norm_layers(net);
  if (passes == 0 || layers == 0) return layers;
  torch::NoGradGuard no_grad;
  net->train();
  for (int64_t pass = 0; pass < passes; ++pass) {
    LoaderOptions options;
    options.batch_size = batch_size;
    options.shuffle = true;
    options.seed = seed + static_cast<uint64_t>(pass);
    options.workers = workers;
    Loader loader(data, options);
    ProgressBar bar(fmt::format("{} {}/{}", label, pass + 1, passes), loader.num_batches(), show_progress);
    int64_t done = 0;
    while (auto batch = loader.next()) {
      // A batch of one sample has no variance to estimate (and training-mode batch norm refuses it).
      if (batch->size() > 1) (void)net->forward(*batch);
      bar.update(++done);
    }
    bar.finish();
  }
  net->eval();
  return layers;
}

}  // namespace crmt
