#pragma once
#include <random>
#include <string>
#include <vector>

namespace crmt {

// File-system helpers shared by the dataset sources.

// root/relative, refusing a `relative` that is absolute or climbs out of `root` ("../x"): index
// files come from the internet. Throws crmt::Error naming `index_file` and the entry.
std::string join_inside(const std::string& root, const std::string& relative, const std::string& index_file);

// The lines of a text index, without a UTF-8 byte-order mark, "\r" line ends and blank lines.
// Throws crmt::Error naming `path` when it cannot be read.
std::vector<std::string> read_index_lines(const std::string& path);

// The fields of one CSV row; "..." quotes may hold commas and doubled quotes.
std::vector<std::string> split_csv_row(const std::string& row);

// The names of the .jpg files in `dir`, sorted (empty when `dir` is not a directory).
std::vector<std::string> jpeg_files(const std::string& dir);
// How many .jpg files `dir` holds (-1 when it is not a directory).
int count_jpeg_files(const std::string& dir);

// Picks `pick` frame numbers (1-based) out of `n` as the official Kinetics-Sounds loader does:
// segments of n / pick frames; in training a uniform frame of each segment, capped at `cap`; at test
// the middle of each (at least the first). With n <= 2 * pick every pick is frame 1.
std::vector<int> segment_frames(int n, int pick, bool augment, std::mt19937_64& rng, int cap);

// Uniform integer in [lo, hi].
int uniform_int(std::mt19937_64& rng, int lo, int hi);

}  // namespace crmt
