// SequentialGenerator: runs one request at a time straight through a ModelRunner (prefill in
// chunks, then decode), with blocks taken in order from the runner's cache. The reference path
// for golden tests and single-prompt tools; the Engine (engine/runtime) serves many at once.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "engine/backend/model_runner.h"
#include "engine/sampling/sampling_params.h"

namespace junction {

struct SequentialOptions {
  int prefill_chunk = 0;          // tokens per prefill step; 0 = the whole prompt in one step
  bool keep_step_logits = false;  // keep the logits each generated token was sampled from
  AttentionPolicy policy;
};

struct SequentialResult {
  std::vector<TokenId> ids;                     // generated tokens
  std::vector<std::vector<float>> step_logits;  // [num generated][vocab] when kept
  bool stopped_by_eos = false;
  double prefill_seconds = 0;
  double decode_seconds = 0;
};

class SequentialGenerator {
 public:
  // `runner` must outlive the generator; the generator owns all of the runner's cache.
  explicit SequentialGenerator(ModelRunner& runner) : runner_(runner) {}

  // Errors: empty prompt, an id outside the vocabulary, a request longer than the cache.
  absl::StatusOr<SequentialResult> Generate(const std::vector<TokenId>& prompt,
                                            const SamplingParams& params,
                                            const SequentialOptions& options);

  // Logits of every prompt position [prompt.size() * vocab], from one pass over the prompt
  // (in chunks of options.prefill_chunk when set).
  absl::StatusOr<std::vector<float>> PromptLogits(const std::vector<TokenId>& prompt,
                                                  const SequentialOptions& options);

 private:
  absl::Status CheckPrompt(const std::vector<TokenId>& prompt, int max_new_tokens) const;
  ScheduledChunk Chunk(int first, int count, int computed, LogitsMode mode,
                       const SequentialOptions& options) const;

  ModelRunner& runner_;
};

}  // namespace junction
