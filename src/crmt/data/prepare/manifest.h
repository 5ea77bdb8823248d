#pragma once
// prepare_manifest.jsonl: one JSON object per line, appended as each clip ends, synced to disk.
// The last line of a clip wins. Internal to src/crmt/data/prepare.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace crmt::prepare {

class Manifest {
 public:
  // Reads the entries already there; a line torn by a kill is ignored.
  explicit Manifest(std::string path);
  ~Manifest();
  Manifest(const Manifest&) = delete;
  Manifest& operator=(const Manifest&) = delete;

  // The clip's last entry, or null.
  const nlohmann::json* find(const std::string& key) const;
  // Appends `entry` (which has "clip") as one line and fdatasyncs; safe from several threads.
  void append(const nlohmann::json& entry);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  struct Entries;  // the last entry of each clip
  std::unique_ptr<Entries> entries_;
  std::mutex mutex_;
};

}  // namespace crmt::prepare
