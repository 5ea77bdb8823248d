#pragma once
#include <string>
#include <vector>

namespace CLI {
class App;
}  // namespace CLI

namespace crmt::cli {

// Each subcommand registers its options on `app` and sets its callback. Callbacks throw
// crmt::Error on bad input; main turns that into one line on stderr and exit code 1.
void add_data_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_demo_command(CLI::App& app);
void add_compare_command(CLI::App& app);
void add_certify_command(CLI::App& app);
void add_report_command(CLI::App& app);

// The numbers of a comma-separated option value such as "0,0.5,1"; throws crmt::Error naming the
// option on an empty list, a non-number or a negative value (and infinity unless allowed).
std::vector<double> parse_nonnegative_list(const std::string& text, const std::string& option,
                                           bool allow_infinity = false);

// --bound lipschitz-empirical|lipschitz-guaranteed|crown and --intermediate crown|interval,
// shared by certify and report. resolve_bound_option: true for crown; for a Lipschitz bound sets
// `lipschitz` to its kind; throws crmt::Error naming the option on anything else. "" keeps
// `lipschitz` as the older --lipschitz gave it.
void add_bound_options(CLI::App& command, std::string& bound, std::string& intermediate);
bool resolve_bound_option(const std::string& bound, std::string& lipschitz);

// The arguments crmt was started with (argv), for commands that start copies of themselves.
std::vector<std::string>& command_line();

// The process's exit status when no error was thrown (0 unless a command sets it, e.g. 2 when
// `data prepare` finished with failed clips).
int& exit_code();

// --threads N (0 = OMP_NUM_THREADS if set, else all cores), shared by every subcommand that computes.
void add_threads_option(CLI::App& command, int& threads);

// --device cpu|cuda|cuda:N|auto, shared by every subcommand that computes; a given value becomes the
// override device=... (it wins over the config file and over the device a checkpoint was trained on).
void add_device_option(CLI::App& command, std::string& device);
void apply_device_option(const std::string& device, std::vector<std::string>& overrides);

}  // namespace crmt::cli
