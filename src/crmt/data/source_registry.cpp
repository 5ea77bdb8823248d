#include "crmt/data/source_registry.h"

namespace crmt {

namespace detail {
SourceRegistration::SourceRegistration(SourceInfo info) {
  Registry<SourceInfo>::instance().add(std::move(info), "data source");
}
}  // namespace detail

std::vector<std::string> known_sources() { return Registry<SourceInfo>::instance().names(); }

const SourceInfo& source_info(const std::string& name) {
  if (const auto* info = Registry<SourceInfo>::instance().find(name)) return *info;
  fail("data.name must be one of {}, got '{}'", fmt::join(known_sources(), ", "), name);
}

}  // namespace crmt
