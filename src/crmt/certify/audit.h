#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "crmt/certify/certificate.h"
#include "crmt/data/dataset.h"
#include "crmt/models/multimodal_net.h"

namespace crmt {

// A soundness audit of a certificate: every sample with a finite radius > 0 is attacked by l2-PGD,
// jointly over all modalities and NOT clamped to the data range (the certificate covers all of
// R^d), against its predicted class p with the margin loss max_{j != p} h_j - h_p. Per sample the
// budget is budget_scale * radius and the step step_fraction * radius.
struct AuditOptions {
  int steps = 20;
  // Attacks per sample: the first from the clean input, each further one from a random point of
  // the ball (a fixed seed per restart, so that audits repeat).
  int restarts = 1;
  double step_fraction = 0.25;
  double budget_scale = 1.0 - 1e-3;  // < 1: any flip is a violation of the certificate
  int64_t batch_size = 128;
  int64_t max_samples = 0;           // 0 = all certified samples
  // Every this many steps, the Jacobian of every s(m) at the current iterate is compared with the
  // Lipschitz estimate (K backward passes per modality); 0 = never.
  int gradient_check_every = 1;
  // Bisection steps between the last unflipped and the first flipped iterate, so that the reported
  // flipping norm is not inflated by the step size.
  int bisection_steps = 12;
};

struct AuditResult {
  std::string lipschitz_kind;
  std::vector<std::string> modalities;
  double budget_scale = 0;
  int steps = 0;
  int restarts = 0;
  int64_t attacked = 0;         // samples with 0 < radius < inf
  int64_t skipped_zero = 0;     // radius 0 (ties)
  int64_t skipped_infinite = 0; // radius inf (nothing can move the margin)
  int64_t flipped = 0;          // prediction changed within the budget
  int64_t violations = 0;       // flipped with ||delta|| < radius: the certificate was wrong
  double violation_share = 0;   // violations / attacked
  // ||delta|| / radius of every flipped sample, delta the smallest flipping point found on the
  // attack path (< 1 means a violation; 1/ratio is how much too
  // large the radius was).
  std::vector<double> flip_ratios;
  double min_flip_ratio = 0;    // smallest of flip_ratios (inf when nothing flipped)
  // Per modality: the largest observed ||grad_x(m) s_k(m)|| / tau_k(m) and
  // ||grad_x(m) (s_y(m) - s_j(m))|| / pairwise_yj(m) along the attack (> 1: the estimate was
  // exceeded; a guaranteed bound keeps both <= 1).
  std::vector<double> max_tau_ratio;
  std::vector<double> max_pairwise_ratio;
};

AuditResult audit_certificate(MultiModalNet& net, const MultiModalDataset& data, const Certificate& cert,
                              const AuditOptions& options = {});

nlohmann::json audit_json(const AuditResult& audit);
std::string audit_report(const AuditResult& audit);

}  // namespace crmt
