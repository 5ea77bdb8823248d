#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>

#include "crmt/data/prepare/recipe.h"

namespace crmt::prepare {
namespace fs = std::filesystem;

ClipOutputs::ClipOutputs(std::string out_dir, std::string staging_dir)
    : out_dir_(std::move(out_dir)), staging_dir_(std::move(staging_dir)) {
  std::error_code ec;
  fs::remove_all(staging_dir_, ec);  // what a killed run left of this clip
  fs::create_directories(staging_dir_, ec);
  if (ec) fail("{}: cannot create the staging folder: {}", staging_dir_, ec.message());
}

std::string ClipOutputs::stage(const std::string& relative) {
  const fs::path p = fs::path(staging_dir_) / relative;
  std::error_code ec;
  fs::create_directories(p.parent_path(), ec);
  if (ec) fail("{}: cannot create folder: {}", p.parent_path().string(), ec.message());
  return p.string();
}

void ClipOutputs::declare(const std::string& relative) { outputs_.push_back(relative); }

void ClipOutputs::write(const std::string& relative, const void* data, size_t bytes) {
  const auto path = stage(relative);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
  f.close();
  if (!f) fail("{}: cannot write {} bytes (disk full?)", path, bytes);
}

void ClipOutputs::commit() {
  // The staged bytes reach the disk before any rename can: one syncfs for the whole clip is far
  // cheaper than an fsync per frame.
  const int fd = ::open(staging_dir_.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0 || ::syncfs(fd) != 0) {
    if (fd >= 0) ::close(fd);
    fail("{}: cannot sync the staged files", staging_dir_);
  }
  ::close(fd);
  for (const auto& relative : outputs_) {
    const fs::path staged = fs::path(staging_dir_) / relative, final_path = fs::path(out_dir_) / relative;
    std::error_code ec;
    if (!fs::exists(staged, ec)) fail("{}: staged output missing", staged.string());
    fs::create_directories(final_path.parent_path(), ec);
    fs::remove_all(final_path, ec);  // an earlier, interrupted attempt
    fs::rename(staged, final_path, ec);
    if (ec) fail("{}: cannot move into place: {}", final_path.string(), ec.message());
  }
  std::error_code ec;
  fs::remove_all(staging_dir_, ec);
}

FileFinder::FileFinder(const std::string& dir, const std::vector<std::string>& extensions) {
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec)) {
    const auto& p = it->path();
    if (it->is_directory(ec) && p.filename().string().rfind(".prepare", 0) == 0) {
      it.disable_recursion_pending();  // a staging folder of an output inside the videos folder
      continue;
    }
    if (!it->is_regular_file(ec)) continue;
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (std::find(extensions.begin(), extensions.end(), ext) == extensions.end()) continue;
    const auto stem = p.stem().string();
    auto [at, inserted] = files_.emplace(stem, p.string());
    if (!inserted && p.string() < at->second) at->second = p.string();  // the same on every run
  }
  if (ec) fail("{}: cannot list: {}", dir, ec.message());
}

std::string FileFinder::find(const std::string& stem) const {
  const auto it = files_.find(stem);
  return it == files_.end() ? "" : it->second;
}

std::string FileFinder::find_prefix(const std::string& prefix) const {
  const auto it = files_.lower_bound(prefix);
  return it != files_.end() && it->first.compare(0, prefix.size(), prefix) == 0 ? it->second : "";
}

const std::vector<std::string>& video_extensions() {
  static const std::vector<std::string> v{".mp4", ".mkv", ".webm", ".avi", ".flv", ".mov", ".m4v", ".mpg", ".mpeg"};
  return v;
}

}  // namespace crmt::prepare
