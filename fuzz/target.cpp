// One libFuzzer target per entry of entries.h, chosen when compiling: -DCRMT_FUZZ_ENTRY=config ...
#include "entries.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  crmt::fuzz::CRMT_FUZZ_ENTRY(data, size);
  return 0;
}
