#pragma once
#include <algorithm>
#include <string>
#include <vector>

#include "crmt/core/error.h"

namespace crmt {

// The entries of one kind (attacks, methods, ...) that register themselves from static
// initialisers in their own .cpp files, sorted by name. `Entry` has a `std::string name`.
// instance() is function-local, so a registration from any translation unit finds it constructed.
template <typename Entry>
class Registry {
 public:
  static Registry& instance() {
    static Registry registry;
    return registry;
  }
  // `kind` names the registry in the error for a name registered twice ("attack", "method").
  void add(Entry entry, const std::string& kind) {
    if (find(entry.name)) throw Error(kind + " '" + entry.name + "' is registered twice");
    entries_.push_back(std::move(entry));
    std::sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
  }
  const std::vector<Entry>& entries() const { return entries_; }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : entries_) out.push_back(e.name);
    return out;
  }
  const Entry* find(const std::string& name) const {
    for (const auto& e : entries_)
      if (e.name == name) return &e;
    return nullptr;
  }

 private:
  Registry() = default;
  std::vector<Entry> entries_;
};

// A name unique within a translation unit, for the static registration objects of the
// CRMT_REGISTER_* macros.
#define CRMT_REGISTRY_CONCAT2(a, b) a##b
#define CRMT_REGISTRY_CONCAT(a, b) CRMT_REGISTRY_CONCAT2(a, b)
#define CRMT_REGISTRY_UNIQUE_NAME(prefix) CRMT_REGISTRY_CONCAT(prefix, __LINE__)

}  // namespace crmt
