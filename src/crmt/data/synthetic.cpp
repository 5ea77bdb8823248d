#include "crmt/data/synthetic.h"

#include "crmt/core/error.h"

namespace crmt {

MultiModalDataset make_synthetic(const SyntheticOptions& o) {
  if (o.samples <= 0 || o.classes < 2 || o.dims.empty()) fail("synthetic data needs samples > 0, >= 2 classes and a modality");
  auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  ModalitySpecs specs;
  std::vector<at::Tensor> inputs;
  std::vector<std::string> class_names;
  for (int64_t k = 0; k < o.classes; ++k) class_names.push_back(fmt::format("class{}", k));
  auto labels = torch::arange(o.samples, torch::kLong).remainder(o.classes);
  for (size_t m = 0; m < o.dims.size(); ++m) {
    const int64_t dim = o.dims[m];
    auto means = at::normal(0.0, 1.0, {o.classes, dim}, gen);
    means = means / means.norm(2, 1, true).clamp_min(1e-12) * o.separation;
    const double noise = m < o.noise.size() ? o.noise[m] : 1.0;
    auto x = means.index_select(0, labels) + noise * at::normal(0.0, 1.0, {o.samples, dim}, gen);
    ModalitySpec spec;
    spec.name = m < o.names.size() ? o.names[m] : fmt::format("m{}", m);
    spec.shape = {dim};
    specs.push_back(spec);
    inputs.push_back(x.to(torch::kFloat));
  }
  return MultiModalDataset::in_memory(std::move(specs), std::move(inputs), std::move(labels), std::move(class_names),
                                      "synthetic");
}

}  // namespace crmt
