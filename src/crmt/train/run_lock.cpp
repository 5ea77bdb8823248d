#include "crmt/train/run_lock.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "crmt/core/error.h"

namespace crmt {

namespace {

namespace fs = std::filesystem;

// The pid written in a lock file, or 0 when it holds none (being written, or damaged).
long owner_of(const std::string& path) {
  std::ifstream in(path);
  long pid = 0;
  in >> pid;
  return in ? pid : 0;
}

bool alive(long pid) { return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM); }

// Creates the lock file only if there is none (O_EXCL), so two runs cannot both win.
bool try_create(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0) {
    if (errno == EEXIST) return false;
    fail("{}: cannot create the run lock: {}", path, std::strerror(errno));
  }
  const auto text = std::to_string(::getpid()) + "\n";
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!written) fail("{}: cannot write the run lock", path);
  return true;
}

}  // namespace

RunLock::RunLock(const std::string& folder) : path_((fs::path(folder) / ".crmt.lock").string()) {
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) fail("{}: cannot create the output folder: {}", folder, ec.message());
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (try_create(path_)) return;
    const long owner = owner_of(path_);
    // Our own pid can only be a leftover of an earlier process that had it (pids are reused).
    if (owner != ::getpid() && alive(owner))
      fail("{}: another run (pid {}) is using the output folder {}; wait for it or choose another output.dir", path_,
           owner, folder);
    fmt::print(stderr, "note: {}: taking over the lock of a run that is gone (pid {})\n", path_, owner);
    fs::remove(path_, ec);
  }
  fail("{}: cannot take the run lock (another run keeps claiming {})", path_, folder);
}

RunLock::~RunLock() {
  if (owner_of(path_) == ::getpid()) {
    std::error_code ec;
    fs::remove(path_, ec);
  }
}

}  // namespace crmt
