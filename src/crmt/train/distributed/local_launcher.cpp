#include "crmt/train/distributed/local_launcher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include <fmt/format.h>

#include "crmt/core/error.h"

namespace crmt {

int free_local_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) fail("cannot open a socket to find a free port for MASTER_PORT");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  if (!ok) fail("cannot find a free port on 127.0.0.1 for MASTER_PORT (set MASTER_PORT yourself)");
  return ntohs(addr.sin_port);
}

namespace {

int status_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

std::string describe(int status) {
  if (WIFSIGNALED(status)) return fmt::format("was killed by signal {}", WTERMSIG(status));
  return fmt::format("exited with status {}", status_code(status));
}

}  // namespace

int launch_local_processes(int nproc, const std::vector<std::string>& argv, double grace_s) {
  if (nproc < 1) fail("--nproc must be at least 1, got {}", nproc);
  if (argv.empty()) fail("launch_local_processes: no program to run");
  const char* addr_env = std::getenv("MASTER_ADDR");
  const char* port_env = std::getenv("MASTER_PORT");
  const std::string addr = addr_env && *addr_env ? addr_env : "127.0.0.1";
  const std::string port = port_env && *port_env ? port_env : std::to_string(free_local_port());
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<pid_t> pids(nproc, -1);
  for (int r = 0; r < nproc; ++r) {
    const pid_t pid = ::fork();
    if (pid < 0) {
      for (int k = 0; k < r; ++k) ::kill(pids[k], SIGTERM);
      fail("--nproc: cannot start rank {} (fork failed)", r);
    }
    if (pid == 0) {
      const auto rank = std::to_string(r), world = std::to_string(nproc);
      ::setenv("RANK", rank.c_str(), 1);
      ::setenv("LOCAL_RANK", rank.c_str(), 1);
      ::setenv("WORLD_SIZE", world.c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", world.c_str(), 1);
      ::setenv("MASTER_ADDR", addr.c_str(), 1);
      ::setenv("MASTER_PORT", port.c_str(), 1);
      ::execv("/proc/self/exe", args.data());
      std::fprintf(stderr, "crmt: error: --nproc: rank %d cannot start %s\n", r, argv[0].c_str());
      std::_Exit(127);
    }
    pids[r] = pid;
  }
  int first_failure = 0, running = nproc;
  std::chrono::steady_clock::time_point failed_at;
  bool terminated = false;
  while (running > 0) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, first_failure ? WNOHANG : 0);
    if (pid < 0) break;
    if (pid == 0) {  // a rank failed and others still run: give them the grace period
      const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - failed_at).count();
      if (!terminated && waited > grace_s) {
        for (auto p : pids)
          if (p > 0) ::kill(p, SIGTERM);
        terminated = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    int r = 0;
    while (r < nproc && pids[r] != pid) ++r;
    if (r == nproc) continue;
    pids[r] = -1;
    --running;
    const int code = status_code(status);
    if (code != 0 && !first_failure) {
      first_failure = code;
      failed_at = std::chrono::steady_clock::now();
      std::fprintf(stderr, "crmt: error: --nproc %d: rank %d %s; stopping the other ranks\n", nproc, r,
                   describe(status).c_str());
    }
  }
  return first_failure;
}

}  // namespace crmt
