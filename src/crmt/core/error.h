#pragma once
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace crmt {

// Every user-facing failure (bad file, bad config, wrong shape) is a crmt::Error whose message is one
// line naming the file or key and what was expected. The CLI prints it and exits non-zero.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace crmt
