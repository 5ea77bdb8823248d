#include "crmt/core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "crmt/core/error.h"

namespace crmt {

namespace {

namespace fs = std::filesystem;

// fsync through a fresh descriptor: std::ofstream does not expose its own.
void sync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) fail("{}: cannot open to sync: {}", path, std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) fail("{}: fsync failed: {}", path, std::strerror(err));
}

// Removes the temporary file unless the rename took it.
struct TemporaryFile {
  std::string path;
  bool renamed = false;
  ~TemporaryFile() {
    std::error_code ec;
    if (!renamed) fs::remove(path, ec);
  }
};

}  // namespace

void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write) {
  const fs::path target(path);
  const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) fail("{}: cannot create the folder {}: {}", path, folder.string(), ec.message());
  TemporaryFile tmp{path + ".tmp-" + std::to_string(::getpid())};
  {
    std::ofstream out(tmp.path, std::ios::binary | std::ios::trunc);
    if (!out) fail("{}: cannot open for writing: {}", tmp.path, std::strerror(errno));
    write(out);
    out.flush();
    if (!out) fail("{}: write failed (disk full?)", tmp.path);
  }
  sync_path(tmp.path, O_RDONLY);
  fs::rename(tmp.path, target, ec);
  if (ec) fail("{}: cannot rename {} into place: {}", path, tmp.path, ec.message());
  tmp.renamed = true;
  sync_path(folder.string(), O_RDONLY | O_DIRECTORY);
}

void write_file_atomically(const std::string& path, const std::string& text) {
  write_file_atomically(path, [&](std::ostream& out) { out << text; });
}

void write_file_atomically(const std::string& path, const void* data, uint64_t bytes) {
  write_file_atomically(path, [&](std::ostream& out) {
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
  });
}

}  // namespace crmt
