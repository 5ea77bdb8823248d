#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "crmt/core/config.h"
#include "crmt/core/registry.h"
#include "crmt/train/method.h"

namespace crmt {

// One registered training method. Its config section (if it has one) is registered beside it with
// CRMT_REGISTER_CONFIG_SECTION.
struct MethodInfo {
  std::string name;
  std::string help;
  std::function<std::unique_ptr<Method>(const Config&)> make;
};

// Methods register themselves from their own .cpp (CRMT_REGISTER_METHOD); nothing else lists them.
const std::vector<MethodInfo>& registered_methods();
std::vector<std::string> known_methods();
// The method that train.method names, configured from its config section; throws crmt::Error
// listing the known methods for an unknown name.
std::unique_ptr<Method> build_method(const Config& config);

namespace detail {
struct MethodRegistration {
  explicit MethodRegistration(MethodInfo info);
};
}  // namespace detail

// CRMT_REGISTER_METHOD({"name", "help", [](const Config& c) -> std::unique_ptr<Method> { ... }});
#define CRMT_REGISTER_METHOD(...)                                                               \
  static const ::crmt::detail::MethodRegistration CRMT_REGISTRY_UNIQUE_NAME(method_registration_)( \
      ::crmt::MethodInfo __VA_ARGS__)

}  // namespace crmt
