#pragma once
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace crmt {

// What a file source does with a clip it cannot use (a missing frame folder, a corrupt JPEG, a
// spectrogram of the wrong shape, ...): leave it out and count it, or stop with the error.
enum class OnBadSample { Skip, Error };

// Parses data.on_bad_sample: "skip" or "error"; "" gives `fallback`.
OnBadSample parse_on_bad_sample(const std::string& value, OnBadSample fallback);

// The clips left out, shared by every thread reading a split: a count and the first few reasons.
class BadSampleLog {
 public:
  void add(const std::string& reason);
  int64_t count() const;
  // "3 bad samples skipped (first: a; b; c)" and a reset, or "" when none were.
  std::string take_summary();

 private:
  mutable std::mutex mutex_;
  int64_t count_ = 0;
  std::vector<std::string> first_;
};

}  // namespace crmt
