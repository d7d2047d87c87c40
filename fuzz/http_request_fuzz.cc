// libFuzzer entry point of http_request_target.h ; a broken property traps.
#include <cstddef>
#include <cstdint>

#include "fuzz/http_request_target.h"

// Loads fixtures (tokenizers, temp shards) before the first timed input.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  static const uint8_t kEmpty[1] = {0};
  junction::fuzz::HttpRequestTarget(kEmpty, 0);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!junction::fuzz::HttpRequestTarget(data, size)) __builtin_trap();
  return 0;
}
