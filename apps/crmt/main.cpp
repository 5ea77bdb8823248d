#include <cstdio>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "crmt/core/error.h"
#include "crmt/core/runtime.h"

namespace crmt::cli {

std::vector<std::string>& command_line() {
  static std::vector<std::string> args;
  return args;
}

int& exit_code() {
  static int code = 0;
  return code;
}

void add_threads_option(CLI::App& command, int& threads) {
  command.add_option("--threads", threads, "intra-op threads; 0 = OMP_NUM_THREADS if set, else all cores")
      ->default_val(0)
      ->check(CLI::NonNegativeNumber);
}

void add_device_option(CLI::App& command, std::string& device) {
  command.add_option("--device", device, "cpu, cuda, cuda:N or auto (cuda when there is a GPU); default: the config's device");
}

void apply_device_option(const std::string& device, std::vector<std::string>& overrides) {
  if (!device.empty()) overrides.push_back("device=" + device);
}

}  // namespace crmt::cli

int main(int argc, char** argv) {
  crmt::configure_allocator();
  crmt::cli::command_line().assign(argv, argv + argc);
  CLI::App app{"crmt: certifiable robustness for multi-modal models (CRMT, ICLR 2024)"};
  app.require_subcommand(1);
  crmt::cli::add_data_command(app);
  crmt::cli::add_train_command(app);
  crmt::cli::add_eval_command(app);
  crmt::cli::add_demo_command(app);
  crmt::cli::add_compare_command(app);
  crmt::cli::add_certify_command(app);
  crmt::cli::add_report_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const crmt::Error& e) {
    std::fprintf(stderr, "crmt: error: %s\n", e.what());
    return 1;
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "crmt: error: %s\n", e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "crmt: error: %s\n", e.what());
    return 1;
  }
  return crmt::cli::exit_code();
}
