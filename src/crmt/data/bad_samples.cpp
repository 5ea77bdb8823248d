#include "crmt/data/bad_samples.h"

#include <fmt/format.h>

#include "crmt/core/error.h"

namespace crmt {

namespace {
constexpr size_t kReasonsKept = 3;
}

OnBadSample parse_on_bad_sample(const std::string& value, OnBadSample fallback) {
  if (value.empty()) return fallback;
  if (value == "skip") return OnBadSample::Skip;
  if (value == "error") return OnBadSample::Error;
  fail("data.on_bad_sample must be skip or error (or empty for skip in training, error in evaluation), got '{}'",
       value);
}

void BadSampleLog::add(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++count_;
  if (first_.size() < kReasonsKept) first_.push_back(reason);
}

int64_t BadSampleLog::count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return count_;
}

std::string BadSampleLog::take_summary() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (count_ == 0) return "";
  auto text = fmt::format("{} bad sample{} skipped (first: {})", count_, count_ == 1 ? "" : "s", fmt::join(first_, "; "));
  count_ = 0;
  first_.clear();
  return text;
}

}  // namespace crmt
