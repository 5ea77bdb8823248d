#include "crmt/eval/evaluator.h"

#include <chrono>

#include "crmt/core/error.h"
#include "crmt/core/progress.h"
#include "crmt/data/loader.h"
#include "crmt/models/eval_mode_guard.h"

namespace crmt {

std::string EvalCase::label() const {
  if (attack.kind == "none") return "clean";
  const auto& info = attack_info(attack.kind);
  if (!info.has_strength()) return fmt::format("{} {}", info.name, modality);
  if (info.restarts)
    return fmt::format("{} {}={:g} on {} ({} it x {})", info.name, info.strength, attack.eps, modality, attack.steps,
                       attack.restarts);
  return fmt::format("{} {}={:g} on {}", info.name, info.strength, attack.eps, modality);
}

double EvalCase::strength() const {
  return attack.kind != "none" && attack_info(attack.kind).has_strength() ? attack.eps : 0.0;
}

int EvalCase::steps() const { return attack.kind != "none" && attack_info(attack.kind).iterative ? attack.steps : 0; }

int EvalCase::restarts() const {
  return attack.kind != "none" && attack_info(attack.kind).restarts ? attack.restarts : 0;
}

bool EvalCase::same_as(const EvalCase& other) const {
  return attack.kind == other.attack.kind && modality == other.modality && strength() == other.strength() &&
         steps() == other.steps() && restarts() == other.restarts();
}

EvalResult evaluate(MultiModalNet& net, const MultiModalDataset& data, const EvalCase& c, int64_t batch_size,
                    bool show_progress, int workers, const Classifier& classify) {
  if (data.size() == 0) fail("{}: cannot evaluate on an empty split", data.source);
  if (batch_size <= 0) fail("evaluation batch size must be positive, got {}", batch_size);
  build_attack(c.attack);  // rejects a bad spec before any work
  EvalModeGuard eval(*net);
  auto start = std::chrono::steady_clock::now();
  int64_t correct = 0, seen = 0;
  LoaderOptions options;
  options.batch_size = batch_size;
  options.workers = workers;
  Loader loader(data, options);
  const int64_t steps = loader.num_batches();
  ProgressBar bar(c.label(), steps, show_progress);
  for (int64_t s = 0; s < steps; ++s) {
    auto batch = *loader.next();
    if (batch.size() == 0) continue;
    // Random attacks draw fresh numbers per batch (seed + batch index), repeatably.
    auto spec = c.attack;
    spec.seed += static_cast<uint64_t>(s);
    auto attack = build_attack(spec);
    if (attack) batch = attack->perturb(net, batch, resolve_targets(batch, {c.modality}));
    torch::NoGradGuard no_grad;
    const auto predicted = classify ? classify(net, batch, seen).to(batch.labels.device())
                                    : net->forward(batch).logits.argmax(1);
    correct += predicted.eq(batch.labels).sum().item<int64_t>();
    seen += batch.size();
    bar.update(s + 1);
  }
  bar.finish();
  if (seen == 0) fail("{}: no sample of the split could be read", data.source);
  EvalResult r;
  r.evaluated = c;
  r.samples = seen;
  r.accuracy = static_cast<double>(correct) / seen;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

std::vector<EvalCase> standard_suite(const std::vector<std::string>& modalities, double eps, int pgd_steps,
                                     std::optional<double> unimodal_eps) {
  std::vector<EvalCase> cases;
  cases.push_back({AttackSpec{"none", 0, 0}, "all"});
  for (const std::string kind : {"fgm", "pgd"}) {
    cases.push_back({AttackSpec{kind, eps, pgd_steps}, "all"});
    for (const auto& m : modalities) cases.push_back({AttackSpec{kind, unimodal_eps.value_or(eps), pgd_steps}, m});
  }
  for (const auto& m : modalities) cases.push_back({AttackSpec{"missing", 0, 0}, m});
  return cases;
}

std::vector<EvalCase> strong_suite(const std::vector<std::string>& modalities, double eps, int iterations,
                                   int restarts, std::optional<double> unimodal_eps) {
  std::vector<EvalCase> cases;
  cases.push_back({AttackSpec{"apgd", eps, iterations, 0, restarts}, "all"});
  for (const auto& m : modalities)
    cases.push_back({AttackSpec{"apgd", unimodal_eps.value_or(eps), iterations, 0, restarts}, m});
  return cases;
}

}  // namespace crmt
