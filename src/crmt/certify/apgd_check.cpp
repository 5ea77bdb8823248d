#include "crmt/certify/apgd_check.h"

#include <nlohmann/json.hpp>

#include "crmt/attacks/attack_registry.h"
#include "crmt/core/error.h"
#include "crmt/core/table.h"

namespace crmt {

int64_t ApgdCheck::total_broken() const {
  int64_t n = 0;
  for (const auto& r : rows) n += r.broken;
  return n;
}

ApgdCheck apgd_check(MultiModalNet& net, const MultiModalDataset& data, const Certificate& cert, int iterations,
                     int restarts, int64_t batch_size) {
  if (static_cast<int64_t>(cert.samples.size()) != data.size())
    fail("apgd check: the certificate covers {} samples, {} has {}", cert.samples.size(), data.source, data.size());
  ApgdCheck check;
  check.lipschitz_kind = cert.lipschitz.kind;
  check.iterations = iterations;
  check.restarts = restarts;
  for (double r : cert.radii) {
    if (!(r > 0) || !std::isfinite(r)) continue;
    std::vector<int64_t> chosen;
    for (int64_t i = 0; i < data.size(); ++i) {
      const auto& s = cert.samples[static_cast<size_t>(i)];
      if (s.correct() && s.radius >= r) chosen.push_back(i);
    }
    ApgdCheckRow row;
    row.radius = r;
    row.certified = static_cast<int64_t>(chosen.size());
    AttackSpec spec{"apgd", r, iterations, 0, restarts};
    auto attack = build_attack(spec);
    for (size_t start = 0; start < chosen.size(); start += static_cast<size_t>(batch_size)) {
      const auto end = std::min(chosen.size(), start + static_cast<size_t>(batch_size));
      auto idx = torch::tensor(std::vector<int64_t>(chosen.begin() + start, chosen.begin() + end), torch::kLong);
      auto batch = data.batch(idx);
      auto adv = attack->perturb(net, batch, resolve_targets(batch, {"all"}));
      torch::NoGradGuard no_grad;
      row.broken += net->forward(adv).logits.argmax(1).ne(adv.labels).sum().item<int64_t>();
    }
    check.rows.push_back(row);
  }
  return check;
}

nlohmann::json apgd_check_json(const ApgdCheck& check) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : check.rows) rows.push_back({{"radius", r.radius}, {"certified", r.certified}, {"broken", r.broken}});
  return {{"lipschitz", check.lipschitz_kind}, {"iterations", check.iterations}, {"restarts", check.restarts},
          {"rows", rows}, {"total_broken", check.total_broken()}};
}

std::string apgd_check_report(const ApgdCheck& check) {
  Table t;
  t.header = {"radius", "certified (correct, radius >= r)", "broken by APGD at eps = r"};
  for (const auto& r : check.rows)
    t.rows.push_back({fmt::format("{:g}", r.radius), std::to_string(r.certified), std::to_string(r.broken)});
  return fmt::format("\nAPGD against the certificate ({} Lipschitz; {} iterations x {} restarts, CE then DLR):\n{}{}\n",
                     check.lipschitz_kind, check.iterations, check.restarts, t.to_text(),
                     check.total_broken() == 0 ? "no certified sample was broken"
                                               : fmt::format("{} certified sample(s) broken: the certificate does not hold", check.total_broken()));
}

}  // namespace crmt
