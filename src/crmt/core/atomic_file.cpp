#include "crmt/core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
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

std::atomic<int64_t> space_left{-1};  // bytes before a simulated full disk; -1: no simulation

// Passes bytes on to the file until the simulated disk is full, then fails like a full disk.
class FullDiskBuffer : public std::streambuf {
 public:
  explicit FullDiskBuffer(std::streambuf* file) : file_(file) {}

 protected:
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    char ch = traits_type::to_char_type(c);
    return xsputn(&ch, 1) == 1 ? c : traits_type::eof();
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    int64_t left = space_left.load();
    const std::streamsize allowed = left < 0 ? n : std::min<std::streamsize>(n, left);
    if (left >= 0) space_left.fetch_sub(allowed);
    const auto written = file_->sputn(s, allowed);
    return written;  // fewer than n: the stream goes bad, as on ENOSPC
  }
  int sync() override { return file_->pubsync(); }

 private:
  std::streambuf* file_;
};

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
    std::ofstream file(tmp.path, std::ios::binary | std::ios::trunc);
    if (!file) fail("{}: cannot open for writing: {}", tmp.path, std::strerror(errno));
    FullDiskBuffer buffer(file.rdbuf());
    std::ostream out(&buffer);
    write(out);
    out.flush();
    file.flush();
    if (!out || !file) fail("{}: write failed (disk full?); {} is unchanged", tmp.path, path);
  }
  sync_path(tmp.path, O_RDONLY);
  fs::rename(tmp.path, target, ec);
  if (ec) fail("{}: cannot rename {} into place: {}", path, tmp.path, ec.message());
  tmp.renamed = true;
  sync_path(folder.string(), O_RDONLY | O_DIRECTORY);
}

void simulate_full_disk_after(int64_t bytes) { space_left.store(bytes < 0 ? -1 : bytes); }

void write_file_atomically(const std::string& path, const std::string& text) {
  write_file_atomically(path, [&](std::ostream& out) { out << text; });
}

void write_file_atomically(const std::string& path, const void* data, uint64_t bytes) {
  write_file_atomically(path, [&](std::ostream& out) {
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
  });
}

}  // namespace crmt
