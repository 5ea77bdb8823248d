#include "crmt/models/small_cnn.h"

#include "crmt/models/batch_norm.h"

namespace crmt {

namespace nn = torch::nn;

SmallCnnImpl::SmallCnnImpl(int64_t in_channels, int64_t embed_dim) : embed_dim_(embed_dim) {
  nn::Sequential seq;
  auto add_stage = [&](int64_t in, int64_t out) {
    seq->push_back(nn::Conv2d(nn::Conv2dOptions(in, out, 3).padding(1).bias(false)));
    seq->push_back(BatchNorm2d(out));
    seq->push_back(nn::ReLU());
  };
  add_stage(in_channels, 16);
  seq->push_back(nn::MaxPool2d(2));
  add_stage(16, 32);
  seq->push_back(nn::MaxPool2d(2));
  add_stage(32, embed_dim);
  seq->push_back(nn::AdaptiveAvgPool2d(1));
  seq->push_back(nn::Flatten());
  body = register_module("body", seq);
}

torch::Tensor SmallCnnImpl::forward(const torch::Tensor& x) { return body->forward(x); }

}  // namespace crmt
