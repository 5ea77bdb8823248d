#include "crmt/train/method_registry.h"

#include "crmt/core/error.h"
#include "crmt/core/registry.h"

namespace crmt {

detail::MethodRegistration::MethodRegistration(MethodInfo info) {
  Registry<MethodInfo>::instance().add(std::move(info), "method");
}

const std::vector<MethodInfo>& registered_methods() { return Registry<MethodInfo>::instance().entries(); }

std::vector<std::string> known_methods() { return Registry<MethodInfo>::instance().names(); }

std::unique_ptr<Method> build_method(const Config& config) {
  const auto name = config.str("train.method");
  if (const auto* info = Registry<MethodInfo>::instance().find(name)) return info->make(config);
  fail("train.method '{}' is unknown; known methods: {}", name, fmt::join(known_methods(), ", "));
}

}  // namespace crmt
