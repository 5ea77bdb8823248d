#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <typeindex>
#include <vector>

namespace torch::nn {
class Module;
class SequentialImpl;
}

namespace crmt {

class EncoderImpl;

// Guaranteed Lipschitz bounds, one entry per layer type (auto_LiRPA's bound_op_map style): an
// encoder that is a chain of layers is bounded by the product of its layers' entries. A layer whose
// exact type has no entry cannot be bounded.

// Where a layer sits in the chain being bounded.
struct LayerSite {
  const std::vector<std::shared_ptr<torch::nn::Module>>& layers;  // the whole chain
  const std::vector<std::vector<int64_t>>& in_shapes;             // input shape of each layer, batch of 1
  size_t index;  // this layer
  size_t end;    // layers [end, size) are bounded elsewhere (an entry may only look ahead below end)

  torch::nn::Module& layer() const { return *layers[index]; }
  const std::vector<int64_t>& in_shape() const { return in_shapes[index]; }
};

// One layer's (or a fused run of layers') Lipschitz constant in l2, as the fraction
// numerator / denominator: the running product is multiplied by the numerator, then divided by the
// denominator (so that a layer that divides is not rounded differently from a hand-written
// `product /= d`). `layers` is how many layers of the chain the bound covers, from the site on
// (2 when a Conv2d absorbs the BatchNorm2d after it).
struct LayerLipschitz {
  double numerator = 1.0;
  double denominator = 1.0;
  size_t layers = 1;
};

struct LayerBound {
  std::string name;         // the layer type as people know it, e.g. "Conv2d"
  bool shape_only = false;  // only reshapes or passes values through (Flatten, Identity, eval Dropout)
  // Bounds the layer at `site` (whose type is the entry's key); throws crmt::Error for settings of
  // the type that it cannot bound (e.g. a Conv2d with circular padding).
  std::function<LayerLipschitz(const LayerSite& site)> bound;
};

// The entry for the exact type of `layer`, or null.
const LayerBound* find_layer_bound(const torch::nn::Module& layer);
// Adds or replaces the entry for a module type (not thread-safe: register before bounding).
void register_layer_bound(std::type_index type, LayerBound bound);
template <typename ModuleImpl>
void register_layer_bound(LayerBound bound) {
  register_layer_bound(std::type_index(typeid(ModuleImpl)), std::move(bound));
}
// Names of every type with an entry, sorted.
std::vector<std::string> supported_layer_names();
// A short name of a module's type for messages: "torch::nn::Conv2dImpl" -> "Conv2d".
std::string layer_type_name(const torch::nn::Module& layer);

// The Sequential body of an encoder whose forward is that body (MlpImpl, SmallCnnImpl), or null.
std::shared_ptr<torch::nn::SequentialImpl> encoder_body(EncoderImpl& encoder);

}  // namespace crmt
