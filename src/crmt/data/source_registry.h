#pragma once
#include <functional>
#include <string>
#include <vector>

#include "crmt/core/config.h"
#include "crmt/core/registry.h"
#include "crmt/data/dataset.h"

namespace crmt {

// The datasets data.name can select, each registered from its own .cpp with the function that
// builds its train / validation / test splits from the config (its section is data.<name>).
struct SourceInfo {
  std::string name;
  std::string help;  // one line for `crmt train --help` and docs
  std::function<DataSplits(const Config& config, bool show_progress)> load;
};

namespace detail {
struct SourceRegistration {
  explicit SourceRegistration(SourceInfo info);
};
}  // namespace detail

#define CRMT_REGISTER_SOURCE(name, help, load) \
  static const ::crmt::detail::SourceRegistration CRMT_REGISTRY_UNIQUE_NAME(source_)(::crmt::SourceInfo{name, help, load})

std::vector<std::string> known_sources();
// Throws crmt::Error listing the known names when `name` is not one.
const SourceInfo& source_info(const std::string& name);

}  // namespace crmt
