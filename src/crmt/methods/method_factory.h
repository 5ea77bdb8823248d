#pragma once
#include <memory>
#include <string>
#include <vector>

#include "crmt/core/config.h"
#include "crmt/methods/method.h"

namespace crmt {

// The method that train.method names, configured from its config section.
std::unique_ptr<Method> build_method(const Config& config);
std::vector<std::string> known_methods();

}  // namespace crmt
