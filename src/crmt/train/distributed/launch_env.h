#pragma once
#include <functional>
#include <optional>
#include <string>

namespace crmt {

// Where this process stands in a distributed run, as its launcher told it through the environment:
// torchrun's RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT (also what `crmt train --nproc`
// and most cluster launchers set), or Slurm's SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID when
// WORLD_SIZE is not set (MASTER_ADDR must still name rank 0's host).
struct LaunchEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;  // which GPU of its machine this process takes
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;  // torchrun's default
  std::string launcher = "none";  // none | torchrun | slurm (which variables it came from)
  // torchrun's agent already serves the TCPStore at MASTER_ADDR:MASTER_PORT
  // (TORCHELASTIC_USE_AGENT_STORE=True): rank 0 connects to it instead of starting one.
  bool agent_store = false;
  bool distributed() const { return world_size > 1; }
};

// A variable's value, or nothing when it is not set.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup process_environment();

// The launch environment `env` describes: the world of one when it names no world size or a world
// of one. A malformed or inconsistent value is a crmt::Error naming the variable.
LaunchEnv read_launch_env(const EnvLookup& env = process_environment());

}  // namespace crmt
