#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace crmt {

// A one-line progress bar on stderr: "label [#####.....] 512/1000 12.3 it/s eta 0:40 | extra".
// Redraws at most ~10 times a second; on a non-terminal it prints a line every 10% instead, so that
// logs of long CI runs stay readable.
class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total, bool enabled = true);
  ~ProgressBar();
  // Moves to `done` items (absolute) and shows `extra` (e.g. "loss 0.41 acc 87.2%") after the bar.
  void update(int64_t done, const std::string& extra = "");
  // Draws the final state and ends the line; later updates are ignored.
  void finish(const std::string& extra = "");

 private:
  void draw(bool final_draw);

  std::string label_;
  int64_t total_;
  int64_t done_ = 0;
  std::string extra_;
  bool enabled_;
  bool tty_;
  bool finished_ = false;
  int last_decile_ = -1;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace crmt
