#pragma once
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>

namespace crmt {

// Replaces `path` so that a crash leaves either the old file or the complete new one, never a torn
// one: the content goes to a temporary file in the same folder, which is flushed, fsync'ed and
// renamed over `path`; then the folder itself is fsync'ed so that the rename survives a power cut.
// Every step is checked; a failure is a crmt::Error naming the file, and the temporary is removed.
// Parent folders are created.
void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write);
void write_file_atomically(const std::string& path, const std::string& text);
void write_file_atomically(const std::string& path, const void* data, uint64_t bytes);

// Fault injection for tests: every write after the next `bytes` bytes (summed over all files) fails
// as on a full disk; a negative value switches it off (the default).
void simulate_full_disk_after(int64_t bytes);

}  // namespace crmt
