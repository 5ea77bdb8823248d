#include "crmt/core/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace crmt {

namespace {
std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 360000) return "?";
  auto s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}
}  // namespace

ProgressBar::ProgressBar(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)),
      total_(total > 0 ? total : 1),
      enabled_(enabled),
      tty_(isatty(fileno(stderr)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

ProgressBar::~ProgressBar() {
  if (!finished_ && enabled_ && tty_ && done_ > 0) std::fputc('\n', stderr);
}

void ProgressBar::update(int64_t done, const std::string& extra) {
  if (finished_ || !enabled_) return;
  done_ = std::min(done, total_);
  extra_ = extra;
  auto now = std::chrono::steady_clock::now();
  if (tty_) {
    if (now - last_draw_ < std::chrono::milliseconds(100)) return;
  } else {
    int decile = static_cast<int>(10 * done_ / total_);
    if (decile == last_decile_) return;
    last_decile_ = decile;
  }
  last_draw_ = now;
  draw(false);
}

void ProgressBar::finish(const std::string& extra) {
  if (finished_ || !enabled_) return;
  done_ = total_;
  if (!extra.empty()) extra_ = extra;
  draw(true);
  finished_ = true;
}

void ProgressBar::draw(bool final_draw) {
  constexpr int kWidth = 24;
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = elapsed > 0 ? done_ / elapsed : 0.0;
  double eta = rate > 0 ? (total_ - done_) / rate : -1.0;
  int filled = static_cast<int>(kWidth * done_ / total_);
  std::string bar(filled, '#');
  bar.append(kWidth - filled, '.');
  std::string line = fmt::format("{} [{}] {}/{} {:.1f} it/s {} {}", label_, bar, done_, total_, rate,
                                 final_draw ? "in" : "eta", format_duration(final_draw ? elapsed : eta));
  if (!extra_.empty()) line += " | " + extra_;
  if (tty_)
    std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final_draw ? "\n" : "");
  else
    std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace crmt
