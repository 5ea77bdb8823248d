#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace crmt {

// The pickles of a LibTorch archive (data.pkl, constants.pkl, *.debug_pkl) replayed on a stack of
// value kinds before LibTorch's unpickler sees them. LibTorch 1.13's unpickler trusts its input:
// an opcode on an empty stack, an odd SETITEMS, a huge memo index or a storage that claims more
// bytes than its record holds reads or writes out of bounds. This walk accepts only what LibTorch's
// own writer produces (protocol 2, its opcodes, the globals a module archive names) with every
// operand of the right kind, and each storage record present and large enough.
struct PickleRecords {
  // Bytes of the stored record `name` ("<archive>/data/<key>"), nullopt when there is none.
  std::function<std::optional<uint64_t>(const std::string& name)> stored_size;
  std::string data_prefix;  // "<archive>/data/"
};

// Throws crmt::Error "<why>" (the caller adds file and record) when `pickle` is not one.
void check_torch_pickle(const std::vector<uint8_t>& pickle, const PickleRecords& records);

// The TorchScript source a module archive carries for its classes (code/**.py). crmt's archives
// declare attributes only; anything else (a forged or damaged file reaches LibTorch's TorchScript
// compiler) is refused. Throws crmt::Error naming the line.
void check_module_source(const std::string& source);

}  // namespace crmt
