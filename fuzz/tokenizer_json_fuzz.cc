// libFuzzer entry point of tokenizer_json_target.h ; a broken property traps.
#include <cstddef>
#include <cstdint>

#include "fuzz/tokenizer_json_target.h"

// Loads fixtures (tokenizers, temp shards) before the first timed input.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  static const uint8_t kEmpty[1] = {0};
  junction::fuzz::TokenizerJsonTarget(kEmpty, 0);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!junction::fuzz::TokenizerJsonTarget(data, size)) __builtin_trap();
  return 0;
}
