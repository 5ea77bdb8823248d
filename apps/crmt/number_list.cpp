#include <cctype>
#include <cmath>
#include <sstream>

#include "commands.h"
#include "crmt/core/error.h"

namespace crmt::cli {

std::vector<double> parse_nonnegative_list(const std::string& text, const std::string& option, bool allow_infinity) {
  std::vector<double> values;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t pos = 0;
    double v = 0;
    try {
      v = std::stod(item, &pos);
    } catch (const std::exception&) {
      pos = 0;
    }
    while (pos < item.size() && std::isspace(static_cast<unsigned char>(item[pos]))) ++pos;
    if (item.empty() || pos != item.size() || !(v >= 0) || (!allow_infinity && !std::isfinite(v)))
      fail("{} must be a comma-separated list of non-negative numbers, got '{}'", option, text);
    values.push_back(v);
  }
  if (values.empty()) fail("{} must list at least one number", option);
  return values;
}

}  // namespace crmt::cli
