#include "crmt/certify/lipschitz.h"

#include <torch/torch.h>

#include <limits>
#include <typeindex>
#include <utility>

#include "crmt/certify/layer_bounds.h"
#include "crmt/certify/resnet_bound.h"
#include "crmt/core/error.h"
#include "crmt/core/precision.h"
#include "crmt/models/eval_mode_guard.h"

namespace crmt {

namespace nn = torch::nn;

namespace {

std::vector<int64_t> expand2(std::vector<int64_t> v, const char* what) {
  if (v.size() == 1) v.push_back(v[0]);
  if (v.size() != 2) fail("conv2d {} must have 1 or 2 entries, got {}", what, v.size());
  return v;
}

// A conv weight with `groups` > 1 as the equivalent dense (block-diagonal) weight [Cout, Cin, kh, kw].
at::Tensor dense_group_weight(const at::Tensor& weight, int64_t groups) {
  if (groups == 1) return weight;
  const int64_t cout = weight.size(0), cin_g = weight.size(1), cout_g = cout / groups;
  auto dense = torch::zeros({cout, cin_g * groups, weight.size(2), weight.size(3)}, weight.options());
  for (int64_t g = 0; g < groups; ++g)
    dense.narrow(0, g * cout_g, cout_g).narrow(1, g * cin_g, cin_g).copy_(weight.narrow(0, g * cout_g, cout_g));
  return dense;
}

// The leaf layers of `module` (Sequential children expanded), with their dotted paths.
void collect_layers(torch::nn::Module& module, const std::string& prefix,
                    std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>>& out) {
  for (const auto& child : module.named_children()) {
    const std::string path = prefix.empty() ? child.key() : prefix + "." + child.key();
    if (std::type_index(typeid(*child.value())) == std::type_index(typeid(nn::SequentialImpl)))
      collect_layers(*child.value(), path, out);
    else
      out.emplace_back(path, child.value());
  }
}

std::string unsupported_list(const std::vector<std::string>& unsupported) {
  return fmt::format("{} (bounded layer types: {})", fmt::join(unsupported, ", "),
                     fmt::join(supported_layer_names(), ", "));
}

// How a guaranteed bound sees one encoder: the Lipschitz constant of everything before the tail
// Linear layer (or of everything, when there is none) and that layer's weight.
struct EncoderBound {
  double lipschitz_rest = 1.0;
  at::Tensor tail_weight;  // float64 [out, in] or undefined
};

// An encoder whose forward is its Sequential body is the chain of the body's layers, each bounded
// by its entry in the layer table (layer_bounds.h). Every layer without an entry is named in one
// error. Other encoders (ResNet-18) are no chain: refused, naming their layers that have no entry.
EncoderBound bound_encoder(EncoderImpl& encoder, const ModalitySpec& spec) {
  if (encoder.kind() == "transformer")
    fail("encoder 'transformer' (modality '{}') has no guaranteed Lipschitz bound: dot-product self-attention is "
         "not globally Lipschitz (Kim et al. 2021), nor is layer norm, whose constant grows without limit as its "
         "input's spread shrinks; use --lipschitz empirical",
         spec.name);
  if (auto* resnet = dynamic_cast<ResNetImpl*>(&encoder)) {
    EncoderBound out;
    out.lipschitz_rest = resnet_lipschitz_bound(*resnet, spec);
    return out;
  }
  auto body = encoder_body(encoder);
  if (!body) {
    std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>> leaves;
    collect_layers(encoder, "", leaves);
    std::vector<std::string> unsupported;
    for (const auto& [path, layer] : leaves)
      if (!find_layer_bound(*layer)) unsupported.push_back(fmt::format("{} ({})", path, layer_type_name(*layer)));
    if (unsupported.empty())
      fail("guaranteed Lipschitz bounds are not computable for encoder '{}' (no Sequential body); use --lipschitz "
           "empirical",
           encoder.kind());
    fail("guaranteed Lipschitz bounds are not computable for encoder '{}' (no Sequential body); layers without a "
         "bound: {}; use --lipschitz empirical",
         encoder.kind(), unsupported_list(unsupported));
  }

  std::vector<std::shared_ptr<torch::nn::Module>> layers;
  std::vector<const LayerBound*> bounds;
  std::vector<std::string> unsupported;
  for (auto& any : *body) {
    layers.push_back(any.ptr());
    bounds.push_back(find_layer_bound(*layers.back()));
    if (!bounds.back())
      unsupported.push_back(fmt::format("layer {} ({})", layers.size() - 1, layer_type_name(*layers.back())));
  }
  if (!unsupported.empty())
    fail("guaranteed Lipschitz bounds are not computable for encoder '{}': layers without a bound: {}; use "
         "--lipschitz empirical",
         encoder.kind(), unsupported_list(unsupported));

  torch::NoGradGuard no_grad;
  EvalModeGuard eval(encoder);
  // Input shapes of every layer, from a forward pass of one sample.
  std::vector<std::vector<int64_t>> in_shapes;
  std::vector<int64_t> shape{1};
  shape.insert(shape.end(), spec.shape.begin(), spec.shape.end());
  const auto params = encoder.parameters();
  auto x = torch::zeros(shape, params.empty() ? torch::TensorOptions() : params.front().options());
  for (auto& any : *body) {
    in_shapes.push_back(x.sizes().vec());
    x = any.forward(x);
  }

  EncoderBound out;
  size_t end = layers.size();
  {
    size_t t = layers.size();
    while (t > 0 && bounds[t - 1]->shape_only) --t;
    if (t > 0) {
      if (auto lin = std::dynamic_pointer_cast<nn::LinearImpl>(layers[t - 1])) {
        out.tail_weight = lin->weight.detach().to(torch::kDouble);
        end = t - 1;
      }
    }
  }
  double product = 1.0;
  for (size_t i = 0; i < end;) {
    const auto f = bounds[i]->bound(LayerSite{layers, in_shapes, i, end});
    product *= f.numerator;
    product /= f.denominator;
    i += std::max<size_t>(1, f.layers);
  }
  out.lipschitz_rest = product;
  return out;
}

}  // namespace

double LipschitzEstimate::tau_at(size_t m, int64_t k) const {
  return tau[static_cast<int64_t>(m)][k].item<double>();
}

double LipschitzEstimate::pairwise_at(size_t m, int64_t y, int64_t j) const {
  return pairwise[static_cast<int64_t>(m)][y][j].item<double>();
}

std::string check_lipschitz_kind(const std::string& kind) {
  if (kind != "empirical" && kind != "guaranteed")
    fail("Lipschitz estimate must be 'empirical' or 'guaranteed', got '{}'", kind);
  return kind;
}

at::Tensor unimodal_score_weight(MultiModalNet& net, size_t m) {
  torch::NoGradGuard no_grad;
  const size_t M = net->num_modalities();
  const int64_t dim = net->embedding_dim(m);
  auto options = net->head().bias().options();
  // Rows 0..dim-1: unit embeddings of modality m; row dim: all zeros. Other modalities: zeros.
  std::vector<torch::Tensor> embeddings;
  for (size_t o = 0; o < M; ++o) {
    const int64_t d = net->embedding_dim(o);
    auto e = torch::zeros({dim + 1, d}, options);
    if (o == m) e.narrow(0, 0, dim).copy_(torch::eye(dim, options));
    embeddings.push_back(e);
  }
  auto scores = net->head().forward(embeddings).unimodal_scores.at(m).to(torch::kDouble);  // [dim+1, K]
  return (scores.narrow(0, 0, dim) - scores[dim]).t().contiguous();                         // [K, dim]
}

at::Tensor unimodal_jacobian_gram(MultiModalNet& net, size_t m, const std::vector<at::Tensor>& inputs) {
  const int64_t K = net->num_classes();
  const auto& x = inputs.at(m);
  const int64_t B = x.size(0);
  auto r = unimodal_score_weight(net, m).to(x.scalar_type());  // [K, dim]
  auto xg = x.detach().requires_grad_(true);
  std::vector<at::Tensor> rows;  // K x [B, n]
  {
    torch::AutoGradMode enable(true);
    // One forward pass, then one backward pass per class through the same graph: samples do not
    // interact in eval mode, so the gradient of a class's score summed over the batch is each
    // sample's own gradient.
    torch::Tensor phi;  // [B, dim], filtered if the model filters
    if (net->late_fusion()) {
      phi = net->embed(m, xg);  // through encoder m only
    } else {
      std::vector<at::Tensor> held(inputs);  // the other modalities held at their values
      held[m] = xg;
      phi = net->embed_all(held).at(m);
    }
    auto s = torch::matmul(phi, r.t());  // [B, K]
    for (int64_t k = 0; k < K; ++k) {
      auto grad = torch::autograd::grad({s.select(1, k).sum()}, {xg}, {}, /*retain_graph=*/k + 1 < K)[0];
      // reshape, not view: input gradients come back channels-last from NHWC convolutions (GPUs).
      rows.push_back(grad.reshape({B, -1}));
    }
  }
  auto J = torch::stack(rows, 1).to(torch::kDouble);  // [B, K, n]
  return torch::bmm(J, J.transpose(1, 2));
}

at::Tensor unimodal_jacobian_gram(MultiModalNet& net, size_t m, const at::Tensor& x) {
  net->require_late_fusion("the Jacobian of a modality's scores from its input alone");
  std::vector<at::Tensor> inputs(net->num_modalities());
  inputs[m] = x;
  return unimodal_jacobian_gram(net, m, inputs);
}

LipschitzEstimate empirical_lipschitz(MultiModalNet& net, const MultiModalDataset& data, int64_t max_samples,
                                      int64_t batch_size) {
  const Fp32Scope fp32;  // a bound computed in half precision bounds nothing
  const size_t M = net->num_modalities();
  const int64_t K = net->num_classes();
  int64_t n = data.size();
  if (max_samples > 0) n = std::min(n, max_samples);
  if (n <= 0) fail("empirical Lipschitz estimate needs at least one sample ({} is empty)", data.source);
  EvalModeGuard eval(*net);
  LipschitzEstimate est;
  est.kind = "empirical";
  est.num_classes = K;
  est.samples = n;
  est.tau = torch::zeros({static_cast<int64_t>(M), K}, torch::kDouble);
  est.pairwise = torch::zeros({static_cast<int64_t>(M), K, K}, torch::kDouble);
  // The batch is repeated K times: keep K * chunk inputs in memory at once, at most 4096 samples and
  // 2^26 input values (256 MB; video frames at 224x224 would otherwise need hundreds of GB of
  // activations for the backward pass).
  int64_t values_per_sample = 0;
  for (const auto& spec : data.specs) {
    int64_t n = 1;
    for (auto d : spec.shape) n *= d;
    values_per_sample = std::max(values_per_sample, n);
  }
  const int64_t by_values = (int64_t{1} << 26) / std::max<int64_t>(1, K * values_per_sample);
  const int64_t chunk = std::max<int64_t>(1, std::min({batch_size, 4096 / K, by_values}));
  for (int64_t start = 0; start < n; start += chunk) {
    const int64_t b = std::min(chunk, n - start);
    auto idx = torch::arange(start, start + b, torch::kLong);
    auto batch = data.batch(idx);
    auto inputs = net->align(batch);
    for (size_t m = 0; m < M; ++m) {
      auto G = unimodal_jacobian_gram(net, m, inputs);  // [b, K, K]
      auto diag = torch::diagonal(G, 0, 1, 2);             // [b, K]
      // The estimate is a host-side table, whatever device the gradients came from.
      auto tau = diag.clamp_min(0).sqrt().amax(0).cpu();
      auto pair = (diag.unsqueeze(2) + diag.unsqueeze(1) - 2 * G).clamp_min(0).sqrt().amax(0).cpu();
      auto mi = static_cast<int64_t>(m);
      est.tau[mi] = torch::maximum(est.tau[mi], tau);
      est.pairwise[mi] = torch::maximum(est.pairwise[mi], pair);
    }
  }
  for (size_t m = 0; m < M; ++m) {
    est.modalities.push_back(net->specs()[m].name);
    est.pairwise[static_cast<int64_t>(m)].fill_diagonal_(0);
  }
  return est;
}

bool guaranteed_lipschitz_supported(MultiModalNet& net, std::string* why) {
  try {
    net->require_late_fusion("a guaranteed Lipschitz bound per modality");
    for (size_t m = 0; m < net->num_modalities(); ++m) (void)bound_encoder(net->encoder(m), net->specs()[m]);
    return true;
  } catch (const Error& e) {
    if (why) *why = e.what();
    return false;
  }
}

LipschitzEstimate guaranteed_lipschitz(MultiModalNet& net) {
  const Fp32Scope fp32;  // a bound computed in half precision bounds nothing
  net->require_late_fusion("a guaranteed Lipschitz bound per modality");
  const size_t M = net->num_modalities();
  const int64_t K = net->num_classes();
  LipschitzEstimate est;
  est.kind = "guaranteed";
  est.num_classes = K;
  est.tau = torch::zeros({static_cast<int64_t>(M), K}, torch::kDouble);
  est.pairwise = torch::zeros({static_cast<int64_t>(M), K, K}, torch::kDouble);
  for (size_t m = 0; m < M; ++m) {
    est.modalities.push_back(net->specs()[m].name);
    auto bound = bound_encoder(net->encoder(m), net->specs()[m]);
    auto r = unimodal_score_weight(net, m);  // [K, dim]
    // Rows r_k (for tau) and r_y - r_j (for pairs), pushed through the tail Linear when there is one.
    auto diffs = r.unsqueeze(1) - r.unsqueeze(0);  // [K, K, dim]
    if (auto filter = net->embedding_filter()) {
      // The filter sits between the encoder's tail and the head: bound the chain link by link.
      double encoder_lipschitz = bound.lipschitz_rest;
      if (bound.tail_weight.defined()) encoder_lipschitz *= spectral_norm(bound.tail_weight);
      const double scale = encoder_lipschitz * filter->lipschitz_bound();
      auto mi = static_cast<int64_t>(m);
      est.tau[mi] = r.norm(2, {1}) * scale;
      est.pairwise[mi] = diffs.norm(2, {2}) * scale;
      est.pairwise[mi].fill_diagonal_(0);
      continue;
    }
    if (bound.tail_weight.defined()) {
      r = torch::matmul(r, bound.tail_weight);
      diffs = torch::matmul(diffs, bound.tail_weight);
    }
    auto mi = static_cast<int64_t>(m);
    est.tau[mi] = r.norm(2, {1}) * bound.lipschitz_rest;
    est.pairwise[mi] = diffs.norm(2, {2}) * bound.lipschitz_rest;
    est.pairwise[mi].fill_diagonal_(0);
  }
  return est;
}

LipschitzEstimate estimate_lipschitz(MultiModalNet& net, const MultiModalDataset& data, const std::string& kind,
                                     int64_t max_samples) {
  if (check_lipschitz_kind(kind) == "guaranteed") return guaranteed_lipschitz(net);
  return empirical_lipschitz(net, data, max_samples);
}

double spectral_norm(const at::Tensor& matrix) {
  auto a = matrix.detach().to(torch::kDouble);
  if (a.dim() != 2) fail("spectral_norm needs a matrix, got {} dimensions", a.dim());
  if (a.numel() == 0) return 0.0;
  return at::linalg_svdvals(a).max().item<double>();
}

double conv2d_operator_norm(const at::Tensor& weight, const std::vector<int64_t>& input_chw,
                            std::vector<int64_t> stride, std::vector<int64_t> padding,
                            std::vector<int64_t> dilation, int64_t groups, int max_iterations, double tol,
                            uint64_t seed, double stop_at) {
  if (input_chw.size() != 3) fail("conv2d_operator_norm needs an input shape [C, H, W]");
  stride = expand2(stride, "stride");
  padding = expand2(padding, "padding");
  dilation = expand2(dilation, "dilation");
  torch::NoGradGuard no_grad;
  auto w = weight.detach().to(torch::kDouble);
  auto gen = at::detail::createCPUGenerator(seed);
  // Drawn on the host (the same start on any device), iterated where the weight lives.
  auto v = at::randn({1, input_chw[0], input_chw[1], input_chw[2]}, gen, torch::TensorOptions().dtype(torch::kDouble))
               .to(w.device());
  v = v / v.norm();
  auto forward = [&](const at::Tensor& x) { return at::conv2d(x, w, {}, stride, padding, dilation, groups); };
  auto probe = forward(v);
  std::vector<int64_t> output_padding(2);
  for (int a = 0; a < 2; ++a) {
    const int64_t in = input_chw[1 + a], out = probe.size(2 + a), k = w.size(2 + a);
    output_padding[a] = in - ((out - 1) * stride[a] - 2 * padding[a] + dilation[a] * (k - 1) + 1);
  }
  auto adjoint = [&](const at::Tensor& y) {
    return at::conv_transpose2d(y, w, {}, stride, padding, output_padding, groups, dilation);
  };
  double sigma = 0.0;
  for (int it = 0; it < max_iterations; ++it) {
    auto u = adjoint(forward(v));
    const double norm = u.norm().item<double>();  // = sigma^2 once v is the top right singular vector
    if (norm == 0.0) return 0.0;
    v = u / norm;
    const double next = std::sqrt(norm);
    if ((it > 5 && std::abs(next - sigma) <= tol * next) || next >= stop_at) {
      sigma = next;
      break;
    }
    sigma = next;
  }
  // The Rayleigh quotient ||A v|| of the final unit vector: a lower bound of the true norm.
  return std::max(sigma, forward(v).norm().item<double>());
}

double conv2d_norm_upper_bound(const at::Tensor& weight, const std::vector<int64_t>& input_chw,
                               std::vector<int64_t> padding, std::vector<int64_t> dilation, int64_t groups) {
  if (input_chw.size() != 3) fail("conv2d_norm_upper_bound needs an input shape [C, H, W]");
  padding = expand2(padding, "padding");
  dilation = expand2(dilation, "dilation");
  torch::NoGradGuard no_grad;
  auto w = dense_group_weight(weight.detach().to(torch::kDouble), groups);
  const int64_t kh = w.size(2), kw = w.size(3);
  std::vector<int64_t> grid(2);
  for (int a = 0; a < 2; ++a) {
    const int64_t extent = dilation[a] * ((a == 0 ? kh : kw) - 1) + 1;
    // Large enough that neither the padding nor the kernel's extent wraps around: the zero-padded
    // (and any strided) convolution is then a sub-matrix of the circular one.
    grid[a] = input_chw[1 + a] + 2 * padding[a] + extent;
  }
  auto k = torch::zeros({w.size(0), w.size(1), grid[0], grid[1]}, w.options());
  for (int64_t i = 0; i < kh; ++i)
    for (int64_t j = 0; j < kw; ++j)
      k.select(2, i * dilation[0]).select(2, j * dilation[1]).copy_(w.select(2, i).select(2, j));
  // The kernel is real, so the frequency -f holds the complex conjugate of f's matrix, which has the
  // same singular values: the half spectrum of rfft2 covers every frequency.
  auto spectrum = torch::fft::rfft2(k);                               // [Cout, Cin, N1, N2/2+1] complex
  auto per_frequency = spectrum.permute({2, 3, 0, 1}).contiguous();  // [N1, N2/2+1, Cout, Cin]
  // sigma_max^2 is the top eigenvalue of the smaller Gram matrix: a Hermitian eigenvalue problem
  // costs a fraction of an SVD over the tens of thousands of frequencies of a spectrogram.
  auto adjoint = per_frequency.conj().transpose(-2, -1);
  auto gram = w.size(0) >= w.size(1) ? at::matmul(adjoint, per_frequency) : at::matmul(per_frequency, adjoint);
  const double top = at::linalg_eigvalsh(gram).select(-1, -1).max().item<double>();
  return std::sqrt(std::max(top, 0.0));
}

}  // namespace crmt
