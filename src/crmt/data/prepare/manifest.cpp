#include "crmt/data/prepare/manifest.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <utility>

#include <nlohmann/json.hpp>

#include "crmt/core/error.h"

namespace crmt::prepare {

struct Manifest::Entries {
  std::map<std::string, nlohmann::json> by_clip;
};

Manifest::Manifest(std::string path) : path_(std::move(path)), entries_(std::make_unique<Entries>()) {
  bool ends_with_newline = true;
  {
    std::ifstream in(path_, std::ios::binary);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      try {
        auto entry = nlohmann::json::parse(line);
        if (entry.is_object() && entry.contains("clip") && entry["clip"].is_string()) {
          const auto key = entry["clip"].get<std::string>();
          entries_->by_clip[key] = std::move(entry);
        }
      } catch (const nlohmann::json::exception&) {
        // a line cut short by a kill: that clip is simply not recorded
      }
    }
    std::ifstream tail(path_, std::ios::binary | std::ios::ate);
    if (tail && tail.tellg() > 0) {
      tail.seekg(-1, std::ios::end);
      ends_with_newline = tail.get() == '\n';
    }
  }
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("{}: cannot open the manifest for writing", path_);
  if (!ends_with_newline && ::write(fd_, "\n", 1) != 1) fail("{}: cannot write", path_);
}

Manifest::~Manifest() {
  if (fd_ >= 0) ::close(fd_);
}

const nlohmann::json* Manifest::find(const std::string& key) const {
  const auto it = entries_->by_clip.find(key);
  return it == entries_->by_clip.end() ? nullptr : &it->second;
}

void Manifest::append(const nlohmann::json& entry) {
  const std::string line = entry.dump() + "\n";
  std::lock_guard<std::mutex> lock(mutex_);
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n <= 0) fail("{}: cannot append (disk full?)", path_);
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fdatasync(fd_) != 0) fail("{}: cannot sync", path_);
  entries_->by_clip[entry.at("clip").get<std::string>()] = entry;
}

}  // namespace crmt::prepare
