// EngineImpl: the EngineApi over one ModelRunner. One engine thread owns the scheduler, the
// memory manager, the runner and the samplers; Submit / Cancel / Stats / Drain talk to it
// through a mutex-guarded inbox (DESIGN.md §2). Created by CreateEngine (engine.h).
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/memory_manager.h"
#include "engine/runtime/request_stream.h"
#include "engine/runtime/router.h"
#include "engine/runtime/scheduler.h"
#include "engine/sampling/sampler.h"

namespace junction {

class EngineImpl : public EngineApi {
 public:
  // Starts the engine thread. `runner` and `router` are owned from here on.
  EngineImpl(const EngineConfig& config, std::unique_ptr<ModelRunner> runner,
             std::unique_ptr<Router> router, const SchedulerConfig& scheduler_config,
             bool prefix_cacheable_model);
  // Stops the engine thread; unfinished requests end with kError (Unavailable).
  ~EngineImpl() override;

  absl::StatusOr<std::shared_ptr<RequestStream>> Submit(GenerateRequest request) override;
  void Cancel(RequestId id) override;
  EngineStats Stats() const override;
  void Drain() override;
  const ModelSpec& spec() const override { return runner_->spec(); }

 private:
  struct Pending {
    GenerateRequest request;
    std::shared_ptr<RequestStreamImpl> stream;
    int64_t arrival = 0;
  };
  // Engine-thread state of an admitted request (the scheduler holds its tokens and memory).
  struct Active {
    std::shared_ptr<RequestStreamImpl> stream;
    SamplingParams sampling;
    std::unique_ptr<Sampler> sampler;
    // The runner may sample this request's rows itself: it asks for nothing the device sampler
    // lacks (penalties, log-probabilities).
    bool device_sampling = false;
    uint64_t device_seed = 0;  // sampling.seed, or one drawn at admission
  };

  absl::Status ValidateRequest(const GenerateRequest& request) const;
  void Loop();
  void Admit(Pending pending);
  void CancelNow(RequestId id);
  void Step();
  // Fills row_sampling_ for `batch`; true when at least one row is to be sampled by the runner.
  bool PlanDeviceRows(const StepBatch& batch);
  // The runner's step: the sampled ids of the kLast rows (with log-probabilities where asked
  // for), in chunk order.
  absl::Status ForwardAndSampleStep(const StepBatch& batch, std::vector<SampledToken>& tokens);
  bool StopsAfter(const Active& active, const SchedulerRequest& r, FinishReason& reason) const;
  void Finish(RequestId id, FinishReason reason, absl::Status error = absl::OkStatus());
  GenerationDelta DeltaFor(const SchedulerRequest& r) const;
  void PublishStats();

  const EngineConfig config_;
  std::unique_ptr<ModelRunner> runner_;
  std::unique_ptr<Router> router_;
  const bool prefix_cacheable_model_;
  // Engine thread only.
  MemoryManager memory_;
  Scheduler scheduler_;
  absl::flat_hash_map<RequestId, Active> active_;
  std::vector<float> logits_;  // host rows of the last step
  std::vector<RowSampling> row_sampling_;
  std::vector<TokenId> device_ids_;
  int64_t prompt_tokens_total_ = 0;
  int64_t generated_tokens_total_ = 0;

  // Shared with other threads, under mu_.
  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // engine thread waits for inbox / cancels / stop
  std::condition_variable idle_cv_;  // Drain waits for no admitted request
  std::deque<Pending> inbox_;
  std::vector<RequestId> cancels_;
  bool stop_ = false;
  bool draining_ = false;
  int64_t next_id_ = 1;
  int num_admitted_ = 0;  // submitted and not finished (inbox included)
  EngineStats stats_;
  absl::flat_hash_map<std::string, int64_t> requests_by_backend_;

  std::thread thread_;
};

}  // namespace junction
