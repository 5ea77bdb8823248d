#pragma once
#include <memory>
#include <string>
#include <vector>

#include "crmt/models/joint_encoder.h"
#include "crmt/models/mmtm/mmtm.h"
#include "crmt/models/resnet.h"

namespace crmt {

// Intermediate fusion: one ResNet stream per modality (submodules `stream_<modality>`, torchvision
// names inside), run stage by stage, with an MMTM (`mmtm_<stage>`) across all streams after each
// stage in `stages` (1..4; the original paper fuses the later stages). Each stream's pooled
// layer-4 features are its modality's embedding, so a late-fusion head (concat, or CRMT's
// orthogonal one) sits on top; but every embedding now depends on every modality's input.
class MmtmNetImpl : public JointEncoderImpl {
 public:
  MmtmNetImpl(std::vector<std::string> names, std::vector<std::shared_ptr<ResNetImpl>> streams,
              std::vector<int> stages, int64_t ratio);
  std::vector<torch::Tensor> forward(const std::vector<torch::Tensor>& inputs) override;
  std::vector<int64_t> out_dims() const override;
  std::string kind() const override;
  std::vector<torch::Tensor> modality_parameters(size_t m) override { return streams_.at(m)->parameters(); }
  ResNetImpl& stream(size_t m) { return *streams_.at(m); }
  // The MMTM after stage i, or null.
  MmtmImpl* mmtm_after(int stage);

 private:
  std::vector<std::shared_ptr<ResNetImpl>> streams_;
  std::vector<Mmtm> modules_;  // one per stage 1..4, null where there is none
};

}  // namespace crmt
