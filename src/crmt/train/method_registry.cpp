#include "crmt/train/method_registry.h"

#include <algorithm>

#include "crmt/core/error.h"

namespace crmt {

namespace {
std::vector<MethodInfo>& registry() {
  static std::vector<MethodInfo> methods;
  return methods;
}
}  // namespace

detail::MethodRegistration::MethodRegistration(MethodInfo info) {
  auto& all = registry();
  auto same = [&](const MethodInfo& m) { return m.name == info.name; };
  if (std::any_of(all.begin(), all.end(), same)) throw Error("method '" + info.name + "' is registered twice");
  all.push_back(std::move(info));
  std::sort(all.begin(), all.end(), [](const MethodInfo& a, const MethodInfo& b) { return a.name < b.name; });
}

const std::vector<MethodInfo>& registered_methods() { return registry(); }

std::vector<std::string> known_methods() {
  std::vector<std::string> names;
  for (const auto& m : registry()) names.push_back(m.name);
  return names;
}

std::unique_ptr<Method> build_method(const Config& config) {
  const auto name = config.str("train.method");
  for (const auto& m : registry())
    if (m.name == name) return m.make(config);
  fail("train.method '{}' is unknown; known methods: {}", name, fmt::join(known_methods(), ", "));
}

}  // namespace crmt
