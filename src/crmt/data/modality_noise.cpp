#include "crmt/data/modality_noise.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "crmt/core/error.h"

namespace crmt {

namespace {

double parse_sigma(const std::string& item, const std::string& what, const std::string& text) {
  size_t pos = 0;
  double v = 0;
  try {
    v = std::stod(item, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  if (item.empty() || pos != item.size())
    fail("{}: '{}' is not a number (give one sigma, e.g. 0.5, or one per modality, e.g. audio=0.25,visual=0.5)", what,
         text);
  if (!std::isfinite(v) || v < 0) fail("{}: sigma must be a finite number >= 0, got {}", what, item);
  return v;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

}  // namespace

bool ModalityNoise::active() const {
  return std::any_of(sigma.begin(), sigma.end(), [](double s) { return s > 0; });
}

double ModalityNoise::of(const std::string& name) const {
  for (size_t m = 0; m < modalities.size(); ++m)
    if (modalities[m] == name) return sigma[m];
  fail("Gaussian noise: no modality '{}' (it has {})", name, fmt::join(modalities, ", "));
}

double ModalityNoise::min_sigma() const { return sigma.empty() ? 0.0 : *std::min_element(sigma.begin(), sigma.end()); }

std::string ModalityNoise::to_string() const {
  std::vector<std::string> parts;
  for (size_t m = 0; m < modalities.size(); ++m) parts.push_back(fmt::format("{}={:g}", modalities[m], sigma[m]));
  return fmt::format("{}", fmt::join(parts, ","));
}

ModalityNoise parse_modality_noise(const std::string& text, const std::vector<std::string>& modalities,
                                   const std::string& what, bool require_positive) {
  ModalityNoise noise;
  noise.modalities = modalities;
  noise.sigma.assign(modalities.size(), 0.0);
  const std::string spec = trim(text);
  if (spec.empty()) fail("{}: empty (give one sigma, e.g. 0.5, or one per modality, e.g. audio=0.25,visual=0.5)", what);
  if (spec.find('=') == std::string::npos) {
    std::fill(noise.sigma.begin(), noise.sigma.end(), parse_sigma(spec, what, text));
  } else {
    std::vector<bool> given(modalities.size(), false);
    std::stringstream ss(spec);
    std::string item;
    while (std::getline(ss, item, ',')) {
      const auto eq = item.find('=');
      if (eq == std::string::npos)
        fail("{}: '{}' mixes a plain sigma with modality=sigma pairs; name every modality", what, text);
      const std::string name = trim(item.substr(0, eq));
      const auto it = std::find(modalities.begin(), modalities.end(), name);
      if (it == modalities.end())
        fail("{}: no modality '{}' (the model has {})", what, name, fmt::join(modalities, ", "));
      const auto m = static_cast<size_t>(it - modalities.begin());
      if (given[m]) fail("{}: modality '{}' is given twice", what, name);
      given[m] = true;
      noise.sigma[m] = parse_sigma(trim(item.substr(eq + 1)), what, text);
    }
  }
  if (require_positive)
    for (size_t m = 0; m < modalities.size(); ++m)
      if (!(noise.sigma[m] > 0))
        fail("{}: modality '{}' needs a sigma > 0 (a smoothed classifier is certified only where every modality is "
             "noised); got '{}'",
             what, modalities[m], text);
  return noise;
}

Batch add_modality_noise(const Batch& batch, const ModalityNoise& noise) {
  Batch out = batch;
  for (size_t i = 0; i < batch.inputs.size(); ++i) {
    const auto it = std::find(noise.modalities.begin(), noise.modalities.end(), batch.modalities[i]);
    if (it == noise.modalities.end()) continue;
    const double sigma = noise.sigma[static_cast<size_t>(it - noise.modalities.begin())];
    if (sigma > 0 && (batch.present.empty() || batch.present[i]))
      out.inputs[i] = batch.inputs[i] + torch::randn_like(batch.inputs[i]) * sigma;
  }
  return out;
}

}  // namespace crmt
