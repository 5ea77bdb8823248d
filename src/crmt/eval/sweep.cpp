#include "crmt/eval/sweep.h"

#include <nlohmann/json.hpp>

#include "crmt/attacks/attack_registry.h"
#include "crmt/attacks/fgm.h"
#include "crmt/core/error.h"
#include "crmt/core/progress.h"
#include "crmt/models/eval_mode_guard.h"

namespace crmt {

namespace {

int64_t count_correct(MultiModalNet& net, const Batch& batch) {
  torch::NoGradGuard no_grad;
  return net->forward(batch).logits.argmax(1).eq(batch.labels).sum().item<int64_t>();
}

}  // namespace

Sweep sweep_attack(MultiModalNet& net, const MultiModalDataset& data, const std::string& attack,
                   const std::vector<double>& strengths, int64_t batch_size, int pgd_steps, bool show_progress) {
  if (strengths.empty()) fail("a sweep needs at least one strength");
  if (data.size() == 0) fail("{}: cannot sweep an empty split", data.source);
  if (attack == "none" || !attack_info(attack).has_strength())
    fail("sweep: '{}' has no strength to sweep; use {}", attack, fmt::join(attacks_with_strength(), ", "));
  build_attack(AttackSpec{attack, strengths[0], pgd_steps});  // validates the strength
  Sweep out;
  out.attack = attack;
  out.strengths = strengths;
  out.targets = {"all"};
  for (const auto& s : data.specs) out.targets.push_back(s.name);
  out.samples = data.size();
  std::vector<std::vector<int64_t>> correct(out.targets.size(), std::vector<int64_t>(strengths.size(), 0));

  EvalModeGuard eval(*net);
  const int64_t steps = (data.size() + batch_size - 1) / batch_size;
  ProgressBar bar(fmt::format("{} sweep", attack), steps, show_progress);
  for (int64_t s = 0; s < steps; ++s) {
    auto batch = data.batch(torch::arange(s * batch_size, std::min((s + 1) * batch_size, data.size()), torch::kLong));
    const int64_t clean = count_correct(net, batch);
    for (size_t t = 0; t < out.targets.size(); ++t) {
      auto targets = resolve_targets(batch, {out.targets[t]});
      std::vector<at::Tensor> fgm_direction;
      if (attack == "fgm") fgm_direction = Fgm::direction(net, batch, targets);
      for (size_t e = 0; e < strengths.size(); ++e) {
        if (strengths[e] == 0) {
          correct[t][e] += clean;
          continue;
        }
        Batch adv = batch;
        if (attack == "fgm") {
          adv = Fgm::apply(net, batch, targets, fgm_direction, strengths[e]);
        } else {
          AttackSpec spec{attack, strengths[e], pgd_steps, static_cast<uint64_t>(s)};
          adv = build_attack(spec)->perturb(net, batch, targets);
        }
        correct[t][e] += count_correct(net, adv);
      }
    }
    bar.update(s + 1);
  }
  bar.finish();
  out.accuracy.assign(out.targets.size(), std::vector<double>(strengths.size(), 0));
  for (size_t t = 0; t < out.targets.size(); ++t)
    for (size_t e = 0; e < strengths.size(); ++e) out.accuracy[t][e] = static_cast<double>(correct[t][e]) / data.size();
  return out;
}

Table sweep_table(const Sweep& sweep) {
  Table t;
  t.header = {sweep.attack + " on"};
  for (double e : sweep.strengths) t.header.push_back(fmt::format("{:g}", e));
  for (size_t i = 0; i < sweep.targets.size(); ++i) {
    std::vector<std::string> row{sweep.targets[i]};
    for (double a : sweep.accuracy[i]) row.push_back(fmt::format("{:.2f}", 100 * a));
    t.rows.push_back(row);
  }
  return t;
}

nlohmann::json sweep_json(const Sweep& sweep) {
  nlohmann::json rows = nlohmann::json::object();
  for (size_t i = 0; i < sweep.targets.size(); ++i) rows[sweep.targets[i]] = sweep.accuracy[i];
  return {{"attack", sweep.attack}, {"strengths", sweep.strengths}, {"samples", sweep.samples}, {"accuracy", rows}};
}

}  // namespace crmt
