#include "crmt/models/mmtm/mmtm_net.h"

#include "crmt/core/error.h"

namespace crmt {

MmtmNetImpl::MmtmNetImpl(std::vector<std::string> names, std::vector<std::shared_ptr<ResNetImpl>> streams,
                         std::vector<int> stages, int64_t ratio)
    : streams_(std::move(streams)), modules_(4, Mmtm(nullptr)) {
  if (streams_.size() < 2) fail("model.fusion mmtm needs at least 2 modalities, got {}", streams_.size());
  if (names.size() != streams_.size()) fail("MMTM: {} names for {} streams", names.size(), streams_.size());
  if (stages.empty()) fail("model.mmtm_stages is empty: MMTM needs at least one stage (1..4) to fuse after");
  for (size_t m = 0; m < streams_.size(); ++m) register_module("stream_" + names[m], streams_[m]);
  for (int s : stages) {
    if (s < 1 || s > 4) fail("model.mmtm_stages: stages are 1..4, got {}", s);
    if (modules_[s - 1]) fail("model.mmtm_stages: stage {} is listed twice", s);
    std::vector<int64_t> channels;
    for (auto& stream : streams_) channels.push_back(stream->stage_channels(s));
    modules_[s - 1] = register_module("mmtm_" + std::to_string(s), Mmtm(channels, ratio));
  }
}

MmtmImpl* MmtmNetImpl::mmtm_after(int stage) {
  return stage >= 1 && stage <= 4 && modules_[stage - 1] ? modules_[stage - 1].get() : nullptr;
}

std::vector<torch::Tensor> MmtmNetImpl::forward(const std::vector<torch::Tensor>& inputs) {
  const size_t M = streams_.size();
  if (inputs.size() != M) fail("MMTM model expects {} modalities, got {}", M, inputs.size());
  std::vector<torch::Tensor> y(M);
  std::vector<int64_t> frames(M);
  for (size_t m = 0; m < M; ++m) {
    y[m] = streams_[m]->stem(streams_[m]->fold_frames(inputs[m], &frames[m]));
    if (m > 0 && inputs[m].size(0) != inputs[0].size(0))
      fail("MMTM: modality {} has {} samples but modality 0 has {}", m, inputs[m].size(0), inputs[0].size(0));
  }
  for (int s = 1; s <= 4; ++s) {
    for (size_t m = 0; m < M; ++m) y[m] = streams_[m]->stage(s, y[m]);
    if (modules_[s - 1]) y = modules_[s - 1]->forward(y, frames);
  }
  std::vector<torch::Tensor> out;
  for (size_t m = 0; m < M; ++m) out.push_back(ResNetImpl::pool(y[m], frames[m]));
  return out;
}

std::vector<int64_t> MmtmNetImpl::out_dims() const {
  std::vector<int64_t> dims;
  for (const auto& s : streams_) dims.push_back(s->out_dim());
  return dims;
}

std::string MmtmNetImpl::kind() const {
  std::string stages;
  for (int s = 1; s <= 4; ++s)
    if (modules_[s - 1]) stages += std::to_string(s);
  return fmt::format("mmtm{}({})", stages, streams_[0]->kind());
}

}  // namespace crmt
