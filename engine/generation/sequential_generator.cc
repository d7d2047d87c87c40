#include "engine/generation/sequential_generator.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "engine/sampling/sampler.h"

namespace junction {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

absl::Status SequentialGenerator::CheckPrompt(const std::vector<TokenId>& prompt,
                                              int max_new_tokens) const {
  const ModelSpec& spec = runner_.spec();
  if (prompt.empty()) return absl::InvalidArgumentError("the prompt is empty");
  for (TokenId id : prompt)
    if (id < 0 || id >= spec.vocab_size)
      return absl::InvalidArgumentError(absl::StrCat(
          "token id ", id, " is outside the vocabulary [0, ", spec.vocab_size, ")"));
  const CacheGeometry& cache = runner_.cache();
  const int64_t capacity = static_cast<int64_t>(cache.num_blocks) * cache.block_size;
  const int64_t needed = static_cast<int64_t>(prompt.size()) + max_new_tokens;
  if (spec.NumLayersWithKvCache() > 0 && needed > capacity)
    return absl::ResourceExhaustedError(absl::StrCat("prompt (", prompt.size(), ") + max_tokens (",
                                                     max_new_tokens, ") needs ", needed,
                                                     " KV slots; the cache holds ", capacity));
  return absl::OkStatus();
}

ScheduledChunk SequentialGenerator::Chunk(int first, int count, int computed, LogitsMode mode,
                                          const SequentialOptions& options) const {
  ScheduledChunk chunk;
  chunk.request = RequestId(0);
  chunk.first_token = first;
  chunk.num_tokens = count;
  chunk.num_computed = computed;
  chunk.logits = mode;
  chunk.policy = options.policy;
  chunk.state_slot = StateSlotId(0);
  const int block_size = runner_.cache().block_size;
  const int num_blocks = (computed + count + block_size - 1) / block_size;
  for (int b = 0; b < num_blocks; ++b) chunk.block_table.push_back(BlockId(b));
  return chunk;
}

absl::StatusOr<std::vector<float>> SequentialGenerator::PromptLogits(
    const std::vector<TokenId>& prompt, const SequentialOptions& options) {
  RETURN_IF_ERROR(CheckPrompt(prompt, 0));
  const int total = static_cast<int>(prompt.size());
  const int step = options.prefill_chunk > 0 ? options.prefill_chunk : total;
  std::vector<float> all, logits;
  for (int done = 0; done < total; done += step) {
    const int count = std::min(step, total - done);
    StepBatch batch;
    batch.token_ids.assign(prompt.begin() + done, prompt.begin() + done + count);
    batch.chunks.push_back(Chunk(0, count, done, LogitsMode::kAll, options));
    RETURN_IF_ERROR(runner_.ForwardToHost(batch, logits));
    all.insert(all.end(), logits.begin(), logits.end());
  }
  return all;
}

absl::StatusOr<SequentialResult> SequentialGenerator::Generate(const std::vector<TokenId>& prompt,
                                                               const SamplingParams& params,
                                                               const SequentialOptions& options) {
  RETURN_IF_ERROR(params.Validate());
  RETURN_IF_ERROR(CheckPrompt(prompt, params.max_tokens));
  const ModelSpec& spec = runner_.spec();
  SequentialResult result;
  Sampler sampler(params);
  std::vector<float> logits;
  const int total = static_cast<int>(prompt.size());
  const int step = options.prefill_chunk > 0 ? options.prefill_chunk : total;
  auto start = std::chrono::steady_clock::now();
  for (int done = 0; done < total; done += step) {
    const int count = std::min(step, total - done);
    StepBatch batch;
    batch.token_ids.assign(prompt.begin() + done, prompt.begin() + done + count);
    const bool last = done + count == total;
    batch.chunks.push_back(Chunk(0, count, done, last ? LogitsMode::kLast : LogitsMode::kNone, options));
    RETURN_IF_ERROR(runner_.ForwardToHost(batch, logits));
  }
  result.prefill_seconds = SecondsSince(start);
  start = std::chrono::steady_clock::now();
  int computed = total;
  while (true) {
    if (options.keep_step_logits) result.step_logits.push_back(logits);
    const SampledToken token = sampler.Sample(logits, prompt, result.ids);
    result.ids.push_back(token.id);
    const bool eos = std::find(spec.eos_token_ids.begin(), spec.eos_token_ids.end(), token.id) !=
                     spec.eos_token_ids.end();
    const bool stop_id = std::find(params.stop_token_ids.begin(), params.stop_token_ids.end(),
                                   token.id) != params.stop_token_ids.end();
    if ((eos && !params.ignore_eos) || stop_id) {
      result.stopped_by_eos = true;
      break;
    }
    if (static_cast<int>(result.ids.size()) >= params.max_tokens) break;
    StepBatch batch;
    batch.token_ids = {token.id};
    batch.chunks.push_back(Chunk(0, 1, computed, LogitsMode::kLast, options));
    RETURN_IF_ERROR(runner_.ForwardToHost(batch, logits));
    ++computed;
  }
  result.decode_seconds = SecondsSince(start);
  return result;
}

}  // namespace junction
