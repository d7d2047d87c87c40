// Sampling one token from a row of logits on the host: penalties, temperature, top-k, top-p,
// min-p, seeded randomness. Deterministic for a given seed and history.
#pragma once

#include <random>
#include <span>
#include <vector>

#include "engine/common/ids.h"
#include "engine/sampling/sampling_params.h"

namespace junction {

struct SampledToken {
  TokenId id = 0;
  // Log-probability of `id` under the final (post-processing) distribution; computed only when
  // params.logprobs > 0 (0 otherwise).
  float logprob = 0.0f;
  std::vector<std::pair<TokenId, float>> top_logprobs;  // params.logprobs entries, best first
};

class Sampler {
 public:
  // `seed` seeds this request's generator (a random seed is drawn when params.seed is empty).
  explicit Sampler(const SamplingParams& params);

  // Picks the next token. `logits` is one row [vocab] and is modified (penalties, scaling).
  // `prompt` and `output` are the request's tokens so far (for the penalties).
  SampledToken Sample(std::span<float> logits, std::span<const TokenId> prompt,
                      std::span<const TokenId> output);

 private:
  void ApplyPenalties(std::span<float> logits, std::span<const TokenId> prompt,
                      std::span<const TokenId> output) const;

  SamplingParams params_;
  std::mt19937_64 rng_;
};

}  // namespace junction
