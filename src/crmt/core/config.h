#pragma once
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "crmt/core/registry.h"

namespace crmt {

// An experiment's settings: a tree of defaults (the schema, see config.cpp) merged with a user YAML
// file and `section.key=value` overrides. A key the defaults do not have, or a value that does not
// parse as the default's type, is an error naming the key and the file it came from.
class Config {
 public:
  // Defaults only.
  Config();
  // Defaults, then the YAML file at `path` (may be empty), then the overrides in order.
  static Config load(const std::string& path, const std::vector<std::string>& overrides = {});
  // Defaults, then YAML text (for tests and checkpoints); `origin` names it in errors. With
  // strict = false, keys the schema no longer has are dropped with a warning on stderr, so that a
  // checkpoint written by an older crmt still loads.
  static Config from_string(const std::string& yaml, const std::string& origin, bool strict = true);

  void set(const std::string& dotted_key, const std::string& value, const std::string& origin = "command line");
  bool has(const std::string& dotted_key) const;

  std::string str(const std::string& key) const;
  int64_t integer(const std::string& key) const;
  double real(const std::string& key) const;
  bool boolean(const std::string& key) const;
  std::vector<double> reals(const std::string& key) const;
  std::vector<std::string> strings(const std::string& key) const;

  // The resolved tree as YAML, written beside every run's results.
  std::string to_yaml() const;
  void save(const std::string& path) const;

 private:
  // A whole parsed file or string: must be a mapping; any YAML error becomes one naming `origin`.
  void merge_document(const YAML::Node& user, const std::string& origin, bool strict);
  void merge(const YAML::Node& user, const YAML::Node& schema, YAML::Node target, const std::string& prefix,
             const std::string& origin, bool strict = true);
  YAML::Node lookup(const std::string& key) const;

  YAML::Node root_;
  YAML::Node schema_;
};

// Whether the YAML file at `path` itself sets `dotted_key` (not a default). False for a file that
// cannot be read or parsed (Config::load reports those).
bool config_file_sets(const std::string& path, const std::string& dotted_key);

// The names of the sections that methods registered (for tests and help texts).
std::vector<std::string> registered_config_sections();

namespace detail {
struct ConfigSectionRegistration {
  ConfigSectionRegistration(const std::string& name, const std::string& defaults_yaml);
};
}  // namespace detail

// Adds a section `name` with its defaults (YAML text of a mapping: key: default  # comment) to every
// Config's schema. Called once per section, from the .cpp of the code that reads it.
#define CRMT_REGISTER_CONFIG_SECTION(name, defaults_yaml)                                                  \
  static const ::crmt::detail::ConfigSectionRegistration CRMT_REGISTRY_UNIQUE_NAME(config_section_)( \
      name, defaults_yaml)

}  // namespace crmt
