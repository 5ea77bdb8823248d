#include "crmt/train/distributed/launch_env.h"

#include <cstdlib>

#include "crmt/core/error.h"

namespace crmt {

namespace {

// The whole-number value of `name` within [low, high], or `fallback` when it is not set.
int integer_variable(const EnvLookup& env, const std::string& name, int low, int high, int fallback) {
  const auto value = env(name);
  if (!value) return fallback;
  size_t used = 0;
  long long parsed = 0;
  try {
    parsed = std::stoll(*value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != value->size() || parsed < low || parsed > high)
    fail("environment variable {} must be a whole number in [{}, {}], got '{}'", name, low, high, *value);
  return static_cast<int>(parsed);
}

}  // namespace

EnvLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

LaunchEnv read_launch_env(const EnvLookup& env) {
  LaunchEnv out;
  constexpr int kMaxWorld = 1 << 20;
  const bool torchrun = env("WORLD_SIZE").has_value();
  const bool slurm = !torchrun && env("SLURM_NTASKS").has_value();
  const std::string world_var = torchrun ? "WORLD_SIZE" : "SLURM_NTASKS";
  const std::string rank_var = torchrun ? "RANK" : "SLURM_PROCID";
  const std::string local_var = torchrun ? "LOCAL_RANK" : "SLURM_LOCALID";
  if (!torchrun && !slurm) return out;
  out.world_size = integer_variable(env, world_var, 1, kMaxWorld, 1);
  if (out.world_size == 1) return out;
  out.launcher = torchrun ? "torchrun" : "slurm";
  if (!env(rank_var)) fail("{} is {} but {} is not set: every process needs its rank", world_var, out.world_size, rank_var);
  out.rank = integer_variable(env, rank_var, 0, kMaxWorld, 0);
  if (out.rank >= out.world_size)
    fail("{} {} is not below {} {}: ranks run from 0 to {}", rank_var, out.rank, world_var, out.world_size,
         out.world_size - 1);
  out.local_rank = integer_variable(env, local_var, 0, kMaxWorld, out.rank);
  const auto addr = env("MASTER_ADDR");
  if (!addr || addr->empty())
    fail("MASTER_ADDR is not set: a distributed run ({} {}) needs the address of rank 0's machine{}", world_var,
         out.world_size, slurm ? " (e.g. the first host of $SLURM_JOB_NODELIST)" : "");
  out.master_addr = *addr;
  out.master_port = integer_variable(env, "MASTER_PORT", 1, 65535, out.master_port);
  const auto agent = env("TORCHELASTIC_USE_AGENT_STORE");
  out.agent_store = agent && (*agent == "True" || *agent == "true" || *agent == "1");
  return out;
}

}  // namespace crmt
