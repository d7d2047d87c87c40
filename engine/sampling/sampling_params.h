// Per-request sampling parameters (OpenAI / vLLM semantics) and their validation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/common/ids.h"

namespace junction {

struct SamplingParams {
  float temperature = 1.0f;  // 0 = greedy
  float top_p = 1.0f;        // (0, 1]
  int top_k = 0;             // 0 or -1 = off
  float min_p = 0.0f;        // [0, 1]
  std::optional<uint64_t> seed;
  float repetition_penalty = 1.0f;  // > 0; HF style, over prompt and output
  float presence_penalty = 0.0f;    // [-2, 2]; OpenAI style, over output
  float frequency_penalty = 0.0f;   // [-2, 2]
  int max_tokens = 16;
  std::vector<std::string> stop;
  std::vector<TokenId> stop_token_ids;
  bool ignore_eos = false;
  int logprobs = 0;  // top log-probabilities to return per token (0 = none)

  // OK, or InvalidArgument naming every out-of-range or NaN field.
  absl::Status Validate() const;
  bool greedy() const { return temperature == 0.0f; }
};

}  // namespace junction
