#pragma once
#include <string>
#include <vector>

namespace crmt {

// Runs `argv` (a program and its arguments) as `nproc` ranks of a distributed run on this machine,
// as torchrun --nproc-per-node does: each child gets RANK = LOCAL_RANK = i, WORLD_SIZE =
// LOCAL_WORLD_SIZE = nproc, MASTER_ADDR (127.0.0.1 unless set) and MASTER_PORT (a free port unless
// set). When one rank fails, the others get `grace_s` seconds to fail on their own (they notice the
// lost peer), then are terminated. Returns 0 when every rank succeeded, else the first failure's exit
// status (128 + signal for a killed rank), after one line on stderr naming that rank.
int launch_local_processes(int nproc, const std::vector<std::string>& argv, double grace_s = 30);

// A TCP port on 127.0.0.1 that nothing listens on at the moment of asking.
int free_local_port();

}  // namespace crmt
