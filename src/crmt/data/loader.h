#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "crmt/data/dataset.h"

namespace crmt {

struct LoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = false;
  uint64_t seed = 0;        // the order (when shuffling) and the training transform's draws
  int workers = 0;          // threads reading batches; 0 reads in the caller's thread
  int prefetch = 2;         // batches each worker may have ready ahead of the consumer
  bool drop_last = false;
  bool pin_memory = false;  // page-locked batches (always when the data is on a GPU: see dataset.device)
  // Data parallelism: batch_size is the global batch, which the `world_size` ranks share; this
  // loader yields rank `rank`'s part of each (contiguous, sizes differing by at most one). The
  // global order is the same as one process's for the same seed. A last global batch smaller than
  // the world (which would leave a rank nothing) is dropped.
  int rank = 0;
  int world_size = 1;
};

// Cuts a split into batches in order: a seeded permutation when shuffling (torch::randperm with a
// CPU generator seeded by options.seed, the order the trainer has always used), else 0..N-1. Batch k
// always holds the same samples with the same random transforms, whatever the number of workers;
// workers only decide how soon it is ready. At most workers * prefetch batches wait in memory.
// Samples held in memory are cut in the caller's thread (one index_select per modality).
// Batches arrive on the dataset's device: read into page-locked host memory by the workers, then
// copied without blocking in next().
class Loader {
 public:
  Loader(MultiModalDataset data, LoaderOptions options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  int64_t num_batches() const { return num_batches_; }
  // The next batch, or nothing after the last. Rethrows a worker's error (crmt::Error naming the
  // file) in the caller's thread.
  std::optional<Batch> next();

 private:
  Batch build(int64_t k) const;
  // Positions in order_ of this rank's part of global batch k: [first, second).
  std::pair<int64_t, int64_t> local_range(int64_t k) const;
  void work();

  MultiModalDataset data_;
  LoaderOptions options_;
  at::Tensor order_;
  int64_t num_batches_ = 0;
  int64_t consumed_ = 0;

  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  int64_t next_to_build_ = 0;
  bool stopping_ = false;
  std::map<int64_t, Batch> done_;
  std::map<int64_t, std::exception_ptr> failed_;
};

}  // namespace crmt
