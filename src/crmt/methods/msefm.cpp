// MSEFM. Source followed: the official code, YapengTian/AV-Robustness-CVPR21, main_defense.py (read
// at commit b45e9ae): training loss err = CE(preds, gt) + F.cosine_similarity(feat_v, feat_a, 1).mean()
// (MinSim, weight 1); NetWrapper.forward codes each feature in a fixed per-modality dictionary
// (Dv_best.pth / Da_best.pth, 1024 atoms, learned offline and not in the repository) with ISTA
// (lambda 0.1, step alpha_v / alpha_a) and feeds a * D A + (1 - a) * feature to the classifier,
// a = 0.6 for Kinetics-Sounds and 0.5 for MUSIC/AVE (ExFMem), in training and at test time.
// Deviations: (1) the dictionary is not learned offline: the memory is a random set of clean
// training embeddings (memory_size per modality, columns scaled to unit norm), rebuilt after every
// epoch; (2) ISTA runs a fixed number of steps with step 1 / ||D||_2^2 instead of a tolerance and a
// hand-set step. The memory lives in the model (FeatureMemory, an embedding filter), so evaluation
// and attacks see it as the official NetWrapper does. MinSim needs equal embedding sizes across
// modalities (model.embed_dim).
#include "crmt/methods/msefm.h"

#include "crmt/core/error.h"
#include "crmt/methods/method_helpers.h"
#include "crmt/models/eval_mode_guard.h"
#include "crmt/models/feature_memory.h"
#include "crmt/train/training_context.h"
#include "crmt/train/method_registry.h"

namespace crmt {

CRMT_REGISTER_CONFIG_SECTION("msefm", R"(
sim_weight: 1.0       # MinSim: weight of the mean cosine similarity between the modalities' embeddings
memory: false         # ExFMem: features mixed with their sparse reconstruction, in training and at test time
memory_size: 256      # atoms in each modality's memory (clean training embeddings)
memory_mix: 0.6       # a: feature = a D code + (1 - a) feature (official: 0.6 KS, 0.5 MUSIC/AVE)
sparsity: 0.1         # ISTA lambda
ista_steps: 50
)");
CRMT_REGISTER_METHOD({"msefm", "MSEFM: MinSim loss and the ExFMem feature memory",
                      [](const Config& c) -> std::unique_ptr<Method> { return std::make_unique<Msefm>(MsefmSettings::from_config(c)); }});

MsefmSettings MsefmSettings::from_config(const Config& config) {
  MsefmSettings s;
  s.sim_weight = config.real("msefm.sim_weight");
  s.memory = config.boolean("msefm.memory");
  s.memory_size = config.integer("msefm.memory_size");
  s.memory_mix = config.real("msefm.memory_mix");
  s.sparsity = config.real("msefm.sparsity");
  s.ista_steps = config.integer("msefm.ista_steps");
  if (s.sim_weight < 0) fail("msefm.sim_weight must be >= 0, got {}", s.sim_weight);
  if (s.memory_size < 1) fail("msefm.memory_size must be >= 1, got {}", s.memory_size);
  if (s.memory_mix < 0 || s.memory_mix > 1) fail("msefm.memory_mix must lie in [0, 1], got {}", s.memory_mix);
  if (s.sparsity < 0) fail("msefm.sparsity must be >= 0, got {}", s.sparsity);
  if (s.ista_steps < 1) fail("msefm.ista_steps must be >= 1, got {}", s.ista_steps);
  return s;
}

at::Tensor Msefm::mean_cosine_similarity(const std::vector<at::Tensor>& embeddings) {
  at::Tensor total;
  int64_t pairs = 0;
  for (size_t m = 0; m < embeddings.size(); ++m)
    for (size_t u = m + 1; u < embeddings.size(); ++u) {
      if (embeddings[m].size(1) != embeddings[u].size(1))
        fail("msefm: MinSim needs equal embedding sizes, modalities {} and {} have {} and {}", m, u,
             embeddings[m].size(1), embeddings[u].size(1));
      auto c = torch::cosine_similarity(embeddings[m], embeddings[u], 1).mean();
      total = total.defined() ? total + c : c;
      ++pairs;
    }
  if (!pairs) return torch::zeros({}, embeddings.at(0).options());
  return total / static_cast<double>(pairs);
}

void Msefm::build_memory(MultiModalNet& net, const MultiModalDataset& train) {
  auto memory = std::dynamic_pointer_cast<FeatureMemoryImpl>(net->embedding_filter());
  if (!memory) fail("msefm.memory needs a model built with the feature memory (build_model adds it for msefm)");
  if (train.size() < s_.memory_size)
    fail("msefm.memory_size ({}) exceeds the {} training samples of {}", s_.memory_size, train.size(), train.source);
  torch::NoGradGuard no_grad;
  EvalModeGuard eval(*net);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(0x5eed0000ULL + draws_++);
  auto idx = torch::randperm(train.size(), gen, torch::kLong).slice(0, 0, s_.memory_size);
  auto inputs = net->align(train.batch(idx));
  for (size_t m = 0; m < inputs.size(); ++m) {
    auto atoms = net->encode(m, inputs[m]).t().contiguous();  // [dim, S], before the filter
    memory->set_memory(m, atoms / atoms.norm(2, 0, true).clamp_min(1e-12));
  }
}

void Msefm::setup(MultiModalNet& net, const MultiModalDataset& train) {
  // A resumed run brings its memory in the model's checkpoint; a fresh one starts from the
  // embeddings of the untrained encoders.
  if (s_.memory && draws_ == 0) build_memory(net, train);
}

StepResult Msefm::loss(MultiModalNet& net, const Batch& batch) {
  namespace F = torch::nn::functional;
  StepResult r;
  r.output = net->forward(batch);  // with ExFMem, the model's feature memory filters the embeddings
  r.labels = batch.labels;
  r.logits = r.output.logits;
  r.loss = F::cross_entropy(r.logits, batch.labels);
  if (s_.sim_weight > 0) r.loss = r.loss + s_.sim_weight * mean_cosine_similarity(r.output.embeddings);
  return r;
}

void Msefm::epoch_end(MultiModalNet& net, TrainingContext& context, int64_t epoch) {
  if (s_.memory) build_memory(net, context.data().train);
}

// The memory itself is a model buffer; the method keeps only how many memories it has drawn.
void Msefm::save(torch::serialize::OutputArchive& archive) const {
  archive.write("msefm_draws", torch::tensor(static_cast<int64_t>(draws_), torch::kLong));
}

void Msefm::load(torch::serialize::InputArchive& archive) {
  if (auto t = read_optional_tensor(archive, "msefm_draws"); t.defined()) draws_ = static_cast<uint64_t>(t.item<int64_t>());
}

}  // namespace crmt
