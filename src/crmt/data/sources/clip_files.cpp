#include "crmt/data/sources/clip_files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "crmt/core/error.h"

namespace crmt {

namespace fs = std::filesystem;

std::string join_inside(const std::string& root, const std::string& relative, const std::string& index_file) {
  const fs::path rel(relative);
  if (relative.empty()) fail("{}: an entry has an empty name", index_file);
  if (rel.is_absolute()) fail("{}: entry '{}' is an absolute path; names must stay inside the data root", index_file, relative);
  for (const auto& part : rel.lexically_normal())
    if (part == "..") fail("{}: entry '{}' climbs out of the data root", index_file, relative);
  return (fs::path(root) / rel).string();
}

std::vector<std::string> read_index_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: index file not found (or not readable)", path);
  std::vector<std::string> lines;
  std::string line;
  bool first = true;
  while (std::getline(in, line)) {
    if (first && line.size() >= 3 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);
    first = false;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    lines.push_back(line);
  }
  return lines;
}

std::vector<std::string> split_csv_row(const std::string& row) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < row.size(); ++i) {
    const char c = row[i];
    if (quoted) {
      if (c == '"' && i + 1 < row.size() && row[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

namespace {
bool is_jpeg_name(const fs::path& p) {
  auto ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".jpg" || ext == ".jpeg";
}
}  // namespace

std::vector<std::string> jpeg_files(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (is_jpeg_name(it->path())) names.push_back(it->path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

int count_jpeg_files(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return -1;
  int n = 0;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (is_jpeg_name(it->path())) ++n;
  return n;
}

int uniform_int(std::mt19937_64& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }

std::vector<int> segment_frames(int n, int pick, bool augment, std::mt19937_64& rng, int cap) {
  std::vector<int> t(pick, 1);
  if (n <= 2 * pick) return t;
  const int seg = n / pick;
  for (int i = 0; i < pick; ++i) {
    t[i] = augment ? std::min(uniform_int(rng, i * seg + 1, i * seg + seg), cap) : i * seg + std::max(seg / 2, 1);
  }
  return t;
}

}  // namespace crmt
