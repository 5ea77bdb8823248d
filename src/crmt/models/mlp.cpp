#include "crmt/models/mlp.h"

namespace crmt {

namespace nn = torch::nn;

MlpImpl::MlpImpl(int64_t in_features, std::vector<int64_t> hidden, int64_t embed_dim)
    : hidden_(std::move(hidden)), embed_dim_(embed_dim) {
  nn::Sequential seq;
  seq->push_back(nn::Flatten());
  int64_t width = in_features;
  for (auto h : hidden_) {
    seq->push_back(nn::Linear(width, h));
    seq->push_back(nn::ReLU());
    width = h;
  }
  seq->push_back(nn::Linear(width, embed_dim));
  body = register_module("body", seq);
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) { return body->forward(x); }

}  // namespace crmt
