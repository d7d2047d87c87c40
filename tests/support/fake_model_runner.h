// FakeModelRunner: a ModelRunner with no weights for scheduler and engine tests (no GPU). It
// checks every StepBatch it gets (token offsets, block tables covering the tokens, positions
// consistent with what earlier steps wrote, state slots consistent with num_computed) and
// returns deterministic logits computed from the tokens it can see through the cache: the keys
// read back from its KV blocks and a digest kept in the request's state slot (the fake
// recurrent layer). A scheduler that hands out a wrong block, drops a needed block or mixes up
// slots therefore changes the generated ids, and FakeReferenceIds tells what they must be.
#pragma once

#include <cstdint>
#include <future>
#include <span>
#include <string>
#include <vector>

#include "engine/backend/backend_registry.h"
#include "engine/backend/model_runner.h"
#include "engine/sampling/sampling_params.h"

namespace junction::testing {

struct FakeModelOptions {
  int vocab_size = 64;
  int max_context = 4096;
  bool attention_layer = true;   // one softmax-attention layer (KV blocks)
  int sliding_window = 0;        // > 0: that layer is a model-defined sliding window
  bool recurrent_layer = false;  // one Mamba2-like layer (state slots)
  bool window_policy = true;     // the attention layer serves AttentionPolicy::kWindow
  std::vector<TokenId> eos_token_ids;
  // SamplesOnDevice(): ForwardAndSample samples the rows marked on_device with FakeDeviceSample
  // (standing in for a GPU sampler) and records every row it was given.
  bool device_sampling = false;
  // When valid, every forward waits for it first: a test holds the first step until all its
  // requests are queued, so the batches it checks do not depend on thread timing.
  std::shared_future<void> start;
};

ModelSpec MakeFakeSpec(const FakeModelOptions& options);

// Registers descriptor-only backends "fake.attention", "fake.sliding" and "fake.recurrent" (the
// attention one with options.window_policy), plus "fake.other_attention" that rejects every
// layer ("always busy"), so the router has a rejection to report.
void RegisterFakeBackends(BackendRegistry& registry, const FakeModelOptions& options);

// Logits [vocab] the fake model gives after seeing `visible` (the keys in view, in position
// order) with recurrent digest `digest` (0 without a recurrent layer).
std::vector<float> FakeLogits(std::span<const TokenId> visible, uint64_t digest, int vocab_size);
// The recurrent digest after consuming `tokens` from a zero state.
uint64_t FakeDigest(std::span<const TokenId> tokens);

// The ids a request generates alone: prompt, `params` (sampled with Sampler, so seeded sampling
// works too), the attention policy; stops on max_tokens, stop ids, or eos unless ignore_eos.
std::vector<TokenId> FakeReferenceIds(const FakeModelOptions& options,
                                      const std::vector<TokenId>& prompt,
                                      const SamplingParams& params, const AttentionPolicy& policy);

// The fake runner's "device" sampler: greedy = argmax (lowest id on ties); otherwise the host
// Sampler's filters (temperature -> top-k -> min-p -> top-p) and one draw from a counter-based
// generator of (seed, offset), walked over the kept tokens in vocabulary order. Deliberately a
// different generator from the host Sampler's, so tests see which side sampled a row.
TokenId FakeDeviceSample(std::span<const float> logits, const RowSampling& row);

// FakeReferenceIds for a request whose every row the runner samples (FakeDeviceSample with
// `seed` and offset = tokens generated so far); `params` must have no penalties.
std::vector<TokenId> FakeDeviceReferenceIds(const FakeModelOptions& options,
                                            const std::vector<TokenId>& prompt,
                                            const SamplingParams& params, uint64_t seed,
                                            const AttentionPolicy& policy);

// One logit row ForwardAndSample was given: whose it is and how it was to be sampled.
struct FakeSampledRow {
  RequestId request;
  RowSampling sampling;
};

class FakeModelRunner : public ModelRunner {
 public:
  FakeModelRunner(const FakeModelOptions& options, const CacheGeometry& cache);

  // Checks `batch` (InternalError naming the first problem; nothing is written then), writes
  // each chunk's tokens into its blocks and slot, and returns one logits row per requested row.
  absl::Status ForwardToHost(const StepBatch& batch, std::vector<float>& logits) override;
  bool SamplesOnDevice() const override { return options_.device_sampling; }
  // As ForwardToHost, then the on_device rows sampled by FakeDeviceSample; records the rows.
  absl::Status ForwardAndSample(const StepBatch& batch, std::span<const RowSampling> rows,
                                std::vector<TokenId>& ids,
                                std::vector<float>& host_logits) override;

  const ModelSpec& spec() const override { return spec_; }
  const CacheGeometry& cache() const override { return cache_; }
  const DeviceInfo& device() const override { return device_; }
  std::vector<LayerBackend> layer_backends() const override;

  int64_t num_steps() const { return num_steps_; }
  int max_tokens_in_step() const { return max_tokens_in_step_; }
  // Per ForwardAndSample call, the rows it was given (read after the engine has drained).
  const std::vector<std::vector<FakeSampledRow>>& sampled_steps() const { return sampled_steps_; }

 private:
  struct Entry {
    TokenId token = -1;
    int position = -1;
  };
  struct Slot {
    int num_tokens = 0;
    uint64_t digest = 0;
  };

  absl::Status CheckLayout(const StepBatch& batch) const;
  absl::Status Visible(const ScheduledChunk& chunk, int position, std::vector<TokenId>& out) const;

  FakeModelOptions options_;
  ModelSpec spec_;
  CacheGeometry cache_;
  DeviceInfo device_;
  std::vector<Entry> kv_;  // [num_blocks, block_size]
  std::vector<Slot> slots_;
  int64_t num_steps_ = 0;
  int max_tokens_in_step_ = 0;
  std::vector<std::vector<FakeSampledRow>> sampled_steps_;
};

}  // namespace junction::testing
