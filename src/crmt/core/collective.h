#pragma once
#include <ATen/core/Tensor.h>

#include <memory>
#include <vector>

namespace crmt {

// The run's process group as the layers below train/ see it: rank, world size and the few
// collectives they need (sync batch norm, metric and statistic reductions). The base class is the
// world of one process, where every collective is a no-op; train/distributed/ installs the c10d
// group of a distributed run (set_collective). All ranks must call a collective in the same order
// with tensors of the same shapes and dtypes.
class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const { return 0; }
  virtual int world_size() const { return 1; }
  bool distributed() const { return world_size() > 1; }
  bool is_main() const { return rank() == 0; }
  // In place: every tensor becomes the sum of its copies over all ranks.
  virtual void all_reduce_sum(std::vector<at::Tensor>& tensors) {}
  // In place: every tensor becomes `root`'s copy.
  virtual void broadcast(std::vector<at::Tensor>& tensors, int root = 0) {}
  virtual void barrier() {}
  // Batch-norm layers normalise a training batch with the statistics of all ranks' shards
  // (distributed.sync_batch_norm), not their own.
  bool sync_batch_norm = false;

  // One-tensor and scalar conveniences over all_reduce_sum.
  at::Tensor sum(const at::Tensor& t);
  double sum(double x);
  // In place: every value becomes its sum over all ranks.
  void sum(std::vector<double>& values);
};

// The process's group: the world of one until a distributed run installs its own.
Collective& collective();
// Installs `group` (nullptr: back to the world of one).
void set_collective(std::shared_ptr<Collective> group);

}  // namespace crmt
