#include "crmt/core/config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "crmt/core/atomic_file.h"
#include "crmt/core/error.h"

namespace crmt {

namespace {

// The schema: every key a config may set, with its default and (through the default) its type.
// This is the core of it; each method registers its own section (CRMT_REGISTER_CONFIG_SECTION in
// its .cpp), which only matters when train.method selects that method.
constexpr const char* kDefaults = R"(
seed: 0
threads: 0            # 0 = all cores
device: auto          # cpu | cuda | cuda:N | auto (cuda when LibTorch sees a GPU)
cudnn_benchmark: true # GPU only: cuDNN times its convolution algorithms once for the fixed shapes
data:
  name: embedded
  root: data/embedded
  train_size: 0       # 0 = the whole split
  test_size: 0
  val_fraction: 0.1
  modalities: []      # keep only these modalities (e.g. [audio] for a uni-modal model); [] = all
  workers: 2          # threads reading samples from files (sets held in memory ignore it)
  prefetch: 2         # batches each worker may prepare ahead
  on_bad_sample: ""   # skip | error; "" = skip in training, error in evaluation
  synthetic:          # data.name: synthetic (Gaussian clusters, for tests and smoke runs)
    modalities: 2
    dim: 16
    classes: 4
    samples: 800
    test_samples: 400
    noise: 1.0
model:
  encoder: small_cnn  # small_cnn | resnet18 | resnet34 | transformer | mlp | linear
  encoders: []        # per-modality exceptions to model.encoder, "modality=kind" (e.g. [audio=transformer])
  fusion: late        # late (one encoder per modality) | mmtm (ResNet streams + MMTM) | transformer (joint)
  embed_dim: 64
  hidden_dim: 256     # mlp only
  resnet_width: 64    # resnet18/34 stem channels (the stages have 1, 2, 4, 8 x; the embedding 8 x)
  mmtm_stages: [2, 3, 4]  # fusion mmtm: MMTM modules after these ResNet stages (1..4)
  mmtm_ratio: 4       # fusion mmtm: joint code = 2 * (sum of the streams' channels) / ratio
  transformer:        # encoder transformer (per modality) and fusion transformer (joint)
    dim: 192
    depth: 4
    heads: 3
    mlp_ratio: 4.0
    patch: 16         # square patches of the image / time-frequency plane
    pool: cls         # cls | mean (per-modality encoders; the joint one reads each modality's cls token)
  head: concat        # concat | orthogonal | orthogonal_official
  pretrained: ""      # torchvision resnet18/34 or timm ViT weights (TorchScript archive or state dict); "" = none
  pretrained_modalities: []  # modalities whose encoder loads model.pretrained; [] = all
  channels_last: true # GPU only: resnet convolutions in NHWC memory (cuDNN's tensor-core layout)
train:
  method: jt
  epochs: 5
  batch_size: 64
  lr: 0.01
  momentum: 0.9
  weight_decay: 0.0001
  lr_step: 70         # epochs between learning-rate decays
  lr_gamma: 0.1
  eval_batch_size: 500
  precision: fp32     # fp32 | bf16 | fp16 (fp16: CUDA only, with dynamic loss scaling)
  bn_recalibrate_epochs: 0  # after training (and the method's final stage): passes re-estimating batch-norm statistics
  gaussian_noise: none      # randomized smoothing: sigma per modality in normalized input space (0.5 or audio=0.25,visual=0.5); none = off
  noise_copies: 1           # noisy copies of each sample per step (the batch grows that many times)
  noise_consistency: 0.0    # lambda of Jeong and Shin's consistency regularization over the copies (needs noise_copies >= 2)
  noise_entropy: 0.0        # eta of their entropy term
eval:
  eps: 0.5
  pgd_steps: 4
  test_size: 0
output:
  dir: runs/default
  progress: true
)";

std::string type_name(const YAML::Node& schema) {
  if (schema.IsSequence()) return "a list";
  if (schema.IsMap()) return "a section";
  const auto& s = schema.Scalar();
  if (s == "true" || s == "false") return "true or false";
  try {
    size_t pos = 0;
    (void)std::stoll(s, &pos);
    if (pos == s.size()) return "an integer";
  } catch (...) {
  }
  try {
    size_t pos = 0;
    (void)std::stod(s, &pos);
    if (pos == s.size()) return "a number";
  } catch (...) {
  }
  return "a string";
}

bool matches_type(const YAML::Node& value, const YAML::Node& schema) {
  std::string expected = type_name(schema);
  if (expected == "a list") {  // of scalars: every list crmt reads is one (found by fuzz_config)
    if (!value.IsSequence()) return false;
    for (const auto& item : value)
      if (!item.IsScalar()) return false;
    return true;
  }
  if (expected == "a section") return value.IsMap();
  if (!value.IsScalar()) return false;
  try {
    if (expected == "true or false") return (void)value.as<bool>(), true;
    if (expected == "an integer") return (void)value.as<int64_t>(), true;
    if (expected == "a number") return (void)value.as<double>(), true;
  } catch (const YAML::Exception&) {
    return false;
  }
  return true;
}

std::vector<std::string> split_key(const std::string& key) {
  std::vector<std::string> parts;
  std::stringstream ss(key);
  std::string part;
  while (std::getline(ss, part, '.')) parts.push_back(part);
  return parts;
}

// The node at a dotted key, or nothing when the tree lacks it. Walks a copy: yaml-cpp's non-const
// operator[] and assignment write into the tree they walk.
std::optional<YAML::Node> find_key(const YAML::Node& root, const std::string& key) {
  YAML::Node node = YAML::Clone(root);
  for (const auto& part : split_key(key)) {
    if (!node.IsMap() || !node[part]) return std::nullopt;
    node = node[part];
  }
  return node;
}

// A method's config section: its name and the YAML text of its defaults.
struct ConfigSection {
  std::string name, defaults;
};

// Core keys first, then the registered sections by name, then the evaluation and output keys.
YAML::Node build_schema() {
  YAML::Node core = YAML::Load(kDefaults);
  YAML::Node schema;
  for (const auto& kv : core)
    if (kv.first.as<std::string>() != "eval" && kv.first.as<std::string>() != "output") schema[kv.first] = kv.second;
  // A dotted name ("data.vggsound") places the section inside a core one.
  for (const auto& section : Registry<ConfigSection>::instance().entries()) {
    const auto parts = split_key(section.name);
    if (parts.size() == 1) {
      schema[section.name] = YAML::Load(section.defaults);
    } else {
      schema[parts[0]][parts[1]] = YAML::Load(section.defaults);
    }
  }
  schema["eval"] = core["eval"];
  schema["output"] = core["output"];
  return schema;
}

}  // namespace

namespace detail {
ConfigSectionRegistration::ConfigSectionRegistration(const std::string& name, const std::string& defaults_yaml) {
  YAML::Node parsed;
  try {
    parsed = YAML::Load(defaults_yaml);
  } catch (const YAML::Exception& e) {
    throw Error("config section '" + name + "': its defaults are not valid YAML: " + e.msg);
  }
  if (!parsed.IsMap()) throw Error("config section '" + name + "': its defaults must be a mapping");
  const auto parts = split_key(name);
  YAML::Node core = YAML::Load(kDefaults);
  if (parts.size() == 1 && core[name]) throw Error("config section '" + name + "' clashes with a core section");
  if (parts.size() > 2 || (parts.size() == 2 && (!core[parts[0]] || !core[parts[0]].IsMap() || core[parts[0]][parts[1]])))
    throw Error("config section '" + name + "' must be a new name or one inside a core section (data.name)");
  Registry<ConfigSection>::instance().add({name, defaults_yaml}, "config section");
}
}  // namespace detail

std::vector<std::string> registered_config_sections() { return Registry<ConfigSection>::instance().names(); }

Config::Config() {
  schema_ = build_schema();
  root_ = YAML::Clone(schema_);
}

Config Config::load(const std::string& path, const std::vector<std::string>& overrides) {
  Config cfg;
  if (!path.empty()) {
    if (!std::filesystem::exists(path)) fail("{}: config file not found", path);
    YAML::Node user;
    try {
      user = YAML::LoadFile(path);
    } catch (const YAML::Exception& e) {
      fail("{}: not valid YAML: {}", path, e.msg);
    }
    // An empty file is more likely a mistake than a request for the full default experiment.
    if (user.IsNull()) fail("{}: the config file is empty (give at least train.method, or no --config)", path);
    cfg.merge_document(user, path, /*strict=*/true);
  }
  for (const auto& kv : overrides) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) fail("override '{}' must look like section.key=value", kv);
    cfg.set(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return cfg;
}

Config Config::from_string(const std::string& yaml, const std::string& origin, bool strict) {
  Config cfg;
  YAML::Node user;
  try {
    user = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    fail("{}: not valid YAML: {}", origin, e.msg);
  }
  if (!user.IsNull()) cfg.merge_document(user, origin, strict);
  return cfg;
}

void Config::merge_document(const YAML::Node& user, const std::string& origin, bool strict) {
  // Found by fuzz_config: a top-level list went on to be read as a mapping.
  if (!user.IsMap()) fail("{}: a config must be a mapping of sections", origin);
  try {
    merge(user, schema_, root_, "", origin, strict);
  } catch (const YAML::Exception& e) {  // whatever shape slipped past the checks: still one line
    fail("{}: malformed config: {}", origin, e.msg);
  }
}

void Config::merge(const YAML::Node& user, const YAML::Node& schema, YAML::Node target, const std::string& prefix,
                   const std::string& origin, bool strict) {
  for (const auto& kv : user) {
    if (!kv.first.IsScalar()) fail("{}: config keys must be plain names, got '{}'", origin, YAML::Dump(kv.first));
    const auto key = kv.first.as<std::string>();
    const auto full = prefix.empty() ? key : prefix + "." + key;
    if (!schema[key]) {
      if (strict) fail("{}: unknown config key '{}'", origin, full);
      fmt::print(stderr, "warning: {}: ignoring config key '{}' that this version of crmt does not know\n", origin, full);
      continue;
    }
    const YAML::Node sub_schema = schema[key];
    if (sub_schema.IsMap()) {
      if (!kv.second.IsMap()) fail("{}: config key '{}' must be a section", origin, full);
      merge(kv.second, sub_schema, target[key], full, origin, strict);
    } else {
      if (!matches_type(kv.second, sub_schema))
        fail("{}: config key '{}' must be {}, got '{}'", origin, full, type_name(sub_schema), YAML::Dump(kv.second));
      target[key] = YAML::Clone(kv.second);
    }
  }
}

void Config::set(const std::string& dotted_key, const std::string& value, const std::string& origin) {
  auto parts = split_key(dotted_key);
  // Build a one-key user tree and merge it, so overrides get the same checks as files.
  YAML::Node leaf;
  try {
    leaf = YAML::Load(value);
  } catch (const YAML::Exception&) {
    leaf = YAML::Node(value);
  }
  if (value.empty()) leaf = YAML::Node("");
  YAML::Node user = leaf;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    YAML::Node parent;
    parent[*it] = user;
    user = parent;
  }
  try {
    merge(user, schema_, root_, "", origin);
  } catch (const YAML::Exception& e) {
    fail("{}: malformed setting '{}={}': {}", origin, dotted_key, value, e.msg);
  }
}

YAML::Node Config::lookup(const std::string& key) const {
  auto node = find_key(root_, key);
  if (!node) fail("config has no key '{}'", key);
  return *node;
}

bool config_file_sets(const std::string& path, const std::string& key) {
  try {
    return find_key(YAML::LoadFile(path), key).has_value();
  } catch (const YAML::Exception&) {
    return false;
  }
}

bool Config::has(const std::string& key) const { return find_key(root_, key).has_value(); }

namespace {

// A value read as T, or one error naming the key (never a YAML exception out of an accessor).
template <typename T>
T read_as(const YAML::Node& node, const std::string& key, const char* what) {
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    fail("config key '{}' must be {}", key, what);
  }
}

}  // namespace

std::string Config::str(const std::string& key) const { return read_as<std::string>(lookup(key), key, "a string"); }
int64_t Config::integer(const std::string& key) const { return read_as<int64_t>(lookup(key), key, "an integer"); }
double Config::real(const std::string& key) const { return read_as<double>(lookup(key), key, "a number"); }
bool Config::boolean(const std::string& key) const { return read_as<bool>(lookup(key), key, "true or false"); }
std::vector<double> Config::reals(const std::string& key) const {
  return read_as<std::vector<double>>(lookup(key), key, "a list of numbers");
}
std::vector<std::string> Config::strings(const std::string& key) const {
  return read_as<std::vector<std::string>>(lookup(key), key, "a list of names");
}

std::string Config::to_yaml() const {
  YAML::Emitter out;
  out << root_;
  return std::string(out.c_str()) + "\n";
}

void Config::save(const std::string& path) const { write_file_atomically(path, to_yaml()); }

}  // namespace crmt
