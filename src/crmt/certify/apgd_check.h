#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "crmt/certify/certificate.h"
#include "crmt/data/dataset.h"
#include "crmt/models/multimodal_net.h"

namespace crmt {

// A certificate held against the strongest attack crmt has: for each radius r > 0, APGD (cross-
// entropy, then DLR on what survived; attacks/apgd.h) with budget r, jointly over all modalities,
// on the samples the certificate calls correct and robust at r. Any sample it breaks contradicts
// the certificate: with guaranteed Lipschitz constants that is a bug, with empirical ones it shows
// the estimate was too small. The attack stays in the data's valid range, a subset of the ball the
// certificate covers, so a clean result says "not broken by this attack", not "sound".
struct ApgdCheckRow {
  double radius = 0;
  int64_t certified = 0;  // correct with certified radius >= radius
  int64_t broken = 0;     // of those, misclassified after APGD at eps = radius
};

struct ApgdCheck {
  std::string lipschitz_kind;
  int iterations = 0, restarts = 0;
  std::vector<ApgdCheckRow> rows;
  int64_t total_broken() const;
};

ApgdCheck apgd_check(MultiModalNet& net, const MultiModalDataset& data, const Certificate& cert, int iterations = 100,
                     int restarts = 5, int64_t batch_size = 256);

nlohmann::json apgd_check_json(const ApgdCheck& check);
std::string apgd_check_report(const ApgdCheck& check);

}  // namespace crmt
