#pragma once
#include <string>
#include <vector>

namespace crmt {

// A small table of strings rendered for people (aligned text, markdown) and machines (CSV).
struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;

  std::string to_text() const;
  std::string to_markdown() const;
  std::string to_csv() const;
};

}  // namespace crmt
