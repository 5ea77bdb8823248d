#pragma once
#include <c10/core/Device.h>

#include <memory>
#include <string>

#include "crmt/core/collective.h"
#include "crmt/core/config.h"
#include "crmt/train/distributed/launch_env.h"

namespace crmt {

// The distributed section of a config (defaults in process_group.cpp).
struct DistributedOptions {
  std::string backend = "auto";  // auto (nccl for CUDA models when built with it, else gloo) | gloo | nccl
  double timeout_s = 300;        // joining, and any one collective, before a rank gives up
  bool sync_batch_norm = false;  // batch norm over the global batch (else per rank, as PyTorch's DDP)
  double bucket_mb = 25;         // gradients are all-reduced in flat buckets of about this size
  static DistributedOptions from_config(const Config& config);
};

// Joins the process group of `env` through a TCPStore at MASTER_ADDR:MASTER_PORT (rank 0 serves
// it) on the c10d backend `options` and `device` call for, and returns it as a Collective. Errors
// a user meets are one line each: a port already in use, a rank that cannot reach rank 0 or a
// world that does not fill up within the timeout, a backend this build lacks.
std::shared_ptr<Collective> join_process_group(const LaunchEnv& env, const DistributedOptions& options,
                                               const c10::Device& device);

// Refuses to train when the ranks' resolved configs differ (hash of the YAML, compared with rank
// 0's): every rank throws the same one-line error naming the ranks that differ.
void require_same_config(Collective& group, const std::string& config_yaml);

// Installs a distributed run for the lifetime of the object: reads the launch environment and the
// config's distributed section, joins the group, checks the configs agree, and makes the group
// collective(); the destructor puts the world of one back. In a world of one it does nothing.
class DistributedRun {
 public:
  DistributedRun(const Config& config, const c10::Device& device, const LaunchEnv& env = read_launch_env());
  ~DistributedRun();
  DistributedRun(const DistributedRun&) = delete;
  DistributedRun& operator=(const DistributedRun&) = delete;
  const LaunchEnv& env() const { return env_; }

 private:
  LaunchEnv env_;
};

// The device a rank trains on: for a CUDA device without an index, LOCAL_RANK's GPU.
c10::Device rank_device(const c10::Device& device, const LaunchEnv& env);

}  // namespace crmt
