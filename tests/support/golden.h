// Golden fixtures: a model directory plus transformers' outputs for four prompts
// (tests/golden/<case>/{model/, golden.json, golden.safetensors}).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/backend/model_runner.h"
#include "engine/common/ids.h"
#include "engine/model/model_config.h"
#include "engine/model/safetensors.h"

namespace junction::testing {

struct GoldenCase {
  std::string name;
  std::string model_dir;
  std::vector<std::vector<TokenId>> prompts;
  std::vector<std::vector<TokenId>> greedy;
  std::unique_ptr<SafetensorsFile> tensors;  // logits_<i>, greedy_logits_<i>

  // Row-major float32 contents of tensor `name` (empty when absent).
  std::vector<float> Tensor(const std::string& name) const;
};

// Loads tests/golden/<name> (or an absolute directory). Aborts the test on malformed fixtures.
GoldenCase LoadGoldenCase(const std::string& name);

// Builds a CPU runner with every CPU backend registered and `num_blocks` KV blocks.
std::unique_ptr<ModelRunner> MakeCpuRunner(const std::string& model_dir, int num_blocks = 64,
                                           int block_size = 16, int num_state_slots = 1);

// Largest |a - b| over equal-length arrays.
float MaxAbsDiff(const float* a, const float* b, size_t n);

std::string TestDataDir();

// Checks tests/golden/<name> on the CPU runner: full-sequence logits of each prompt, its greedy
// ids, and the logits at each greedy step (all within 1e-3 of transformers'), with the prompt
// prefilled whole (prefill_chunk = 0) or in chunks of prefill_chunk tokens. Reports through
// Catch2 CHECK / REQUIRE with the case, prompt and chunk in the message.
void CheckGoldenCase(const std::string& name, int prefill_chunk);

}  // namespace junction::testing
