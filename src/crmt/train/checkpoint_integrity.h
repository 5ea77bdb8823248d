#pragma once
#include <string>

namespace crmt {

// The checks made before LibTorch reads a checkpoint, because LibTorch 1.13's reader trusts the
// file: the zip structure (zip64 too, no duplicate or escaping names), every record's CRC-32
// (stored and compressed), the pickles replayed on a stack of value kinds with every storage
// record large enough (train/pickle_check.h), and the TorchScript source of its classes limited to
// attribute declarations. crmt::Error naming the file and the record when one fails.
void check_checkpoint_integrity(const std::string& path);

}  // namespace crmt
