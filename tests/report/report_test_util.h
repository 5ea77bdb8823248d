#pragma once
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

namespace crmt::test {

// Width and height from a PNG's IHDR chunk; {-1, -1} when the file is not a PNG.
inline std::pair<int64_t, int64_t> png_size(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char b[24] = {0};
  if (!in.read(reinterpret_cast<char*>(b), sizeof b)) return {-1, -1};
  const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  for (int i = 0; i < 8; ++i)
    if (b[i] != sig[i]) return {-1, -1};
  if (std::string(reinterpret_cast<char*>(b + 12), 4) != "IHDR") return {-1, -1};
  auto be = [&](int o) { return (int64_t(b[o]) << 24) | (int64_t(b[o + 1]) << 16) | (int64_t(b[o + 2]) << 8) | b[o + 3]; };
  return {be(16), be(20)};
}

// Whether the file starts (after whitespace) with an XML declaration or an <svg> element and
// contains a closing </svg>.
inline bool is_svg(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto start = text.find_first_not_of(" \t\r\n");
  if (start == std::string::npos) return false;
  bool head = text.compare(start, 5, "<?xml") == 0 || text.compare(start, 4, "<svg") == 0;
  return head && text.find("</svg>") != std::string::npos;
}

}  // namespace crmt::test
