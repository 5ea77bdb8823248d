#pragma once
#include <CLI/CLI.hpp>

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

// --threads N (0 = all cores), shared by every subcommand that computes.
void add_threads_option(CLI::App& command, int& threads);

}  // namespace crmt::cli
