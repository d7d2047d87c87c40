// Golden tests: the CPU float32 path against transformers' outputs for Llama-family fixtures.
#include <catch2/catch.hpp>

#include "tests/support/golden.h"

namespace junction::testing {

TEST_CASE("golden llama", "[golden]") { CheckGoldenCase("llama", 0); }
TEST_CASE("golden llama3_rope", "[golden]") { CheckGoldenCase("llama3_rope", 0); }
TEST_CASE("golden llama_yarn", "[golden]") { CheckGoldenCase("llama_yarn", 0); }
TEST_CASE("golden qwen2_bias", "[golden]") { CheckGoldenCase("qwen2_bias", 0); }
TEST_CASE("golden qwen3", "[golden]") { CheckGoldenCase("qwen3", 0); }
TEST_CASE("golden llama family, prefill in chunks of 16", "[golden]") {
  for (const char* name : {"llama", "llama3_rope", "llama_yarn", "qwen2_bias", "qwen3"})
    CheckGoldenCase(name, 16);
}

}  // namespace junction::testing
