#pragma once
#include <string>

namespace crmt {

// Claims an output folder for one run: `folder`/.crmt.lock holds the pid of the run that uses it.
// A second run on a folder whose lock belongs to a live process stops with an error naming both;
// a lock left by a dead process (a killed run) is taken over with a notice. Released when destroyed.
class RunLock {
 public:
  explicit RunLock(const std::string& folder);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace crmt
