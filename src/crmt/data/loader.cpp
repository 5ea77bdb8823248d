#include "crmt/data/loader.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "crmt/core/error.h"

namespace crmt {

Loader::Loader(MultiModalDataset data, LoaderOptions options) : data_(std::move(data)), options_(options) {
  if (options_.batch_size <= 0) fail("train.batch_size must be positive, got {}", options_.batch_size);
  if (options_.workers < 0) fail("data.workers must be >= 0, got {}", options_.workers);
  if (options_.prefetch < 1) fail("data.prefetch must be >= 1, got {}", options_.prefetch);
  if (options_.world_size < 1 || options_.rank < 0 || options_.rank >= options_.world_size)
    fail("loader: rank {} is not in a world of {}", options_.rank, options_.world_size);
  const int64_t n = data_.size();
  if (options_.shuffle) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(options_.seed);
    order_ = at::randperm(n, gen, at::kLong);
  } else {
    order_ = at::arange(n, at::kLong);
  }
  num_batches_ = options_.drop_last ? n / options_.batch_size : (n + options_.batch_size - 1) / options_.batch_size;
  if (options_.world_size > 1 && num_batches_ > 0 && n - (num_batches_ - 1) * options_.batch_size < options_.world_size)
    --num_batches_;  // a last global batch every rank cannot have a part of
  if (data_.in_memory()) options_.workers = 0;
  for (int w = 0; w < options_.workers; ++w) threads_.emplace_back([this] { work(); });
}

Loader::~Loader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  space_.notify_all();
  for (auto& t : threads_) t.join();
}

std::pair<int64_t, int64_t> Loader::local_range(int64_t k) const {
  const int64_t start = k * options_.batch_size;
  const int64_t size = std::min(start + options_.batch_size, data_.size()) - start;
  const int64_t r = options_.rank, w = options_.world_size;
  return {start + size * r / w, start + size * (r + 1) / w};
}

Batch Loader::build(int64_t k) const {
  const auto [start, end] = local_range(k);
  auto batch = data_.host_batch(order_.slice(0, start, end), options_.seed);
  if (options_.pin_memory || data_.device.is_cuda())
    for (auto& x : batch.inputs) x = x.pin_memory();
  return batch;
}

void Loader::work() {
  const int64_t capacity = static_cast<int64_t>(options_.workers) * options_.prefetch;
  for (;;) {
    int64_t k;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      space_.wait(lock, [&] { return stopping_ || next_to_build_ >= num_batches_ || next_to_build_ < consumed_ + capacity; });
      if (stopping_ || next_to_build_ >= num_batches_) return;
      k = next_to_build_++;
    }
    std::optional<Batch> batch;
    std::exception_ptr error;
    try {
      batch = build(k);
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (error) failed_[k] = error;
      else done_[k] = std::move(*batch);
    }
    ready_.notify_all();
  }
}

std::optional<Batch> Loader::next() {
  if (consumed_ >= num_batches_) return std::nullopt;
  const int64_t k = consumed_;
  if (threads_.empty()) {
    ++consumed_;
    return build(k).to(data_.device);
  }
  std::unique_lock<std::mutex> lock(mutex_);
  ready_.wait(lock, [&] { return done_.count(k) || failed_.count(k); });
  if (auto it = failed_.find(k); it != failed_.end()) {
    auto error = it->second;
    failed_.erase(it);
    ++consumed_;
    lock.unlock();
    space_.notify_all();
    std::rethrow_exception(error);
  }
  auto batch = std::move(done_[k]);
  done_.erase(k);
  ++consumed_;
  lock.unlock();
  space_.notify_all();
  return batch.to(data_.device);
}

}  // namespace crmt
