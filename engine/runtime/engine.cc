#include "engine/runtime/engine.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "engine/common/check.h"
#include "engine/common/status_macros.h"
#include "engine/runtime/engine_impl.h"
#include "engine/runtime/memory_budget.h"

namespace junction {

const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kNone:
      return "none";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kCancelled:
      return "cancelled";
    case FinishReason::kError:
      return "error";
  }
  return "?";
}

EngineImpl::EngineImpl(const EngineConfig& config, std::unique_ptr<ModelRunner> runner,
                       std::unique_ptr<Router> router, const SchedulerConfig& scheduler_config,
                       bool prefix_cacheable_model)
    : config_(config),
      runner_(std::move(runner)),
      router_(std::move(router)),
      prefix_cacheable_model_(prefix_cacheable_model),
      memory_(runner_->cache().num_blocks, runner_->cache().block_size,
              runner_->cache().num_state_slots, config.prefix_cache && prefix_cacheable_model),
      scheduler_(scheduler_config, memory_) {
  stats_.kv_blocks_total = memory_.num_blocks();
  stats_.state_slots_total = memory_.num_state_slots();
  thread_ = std::thread([this] { Loop(); });
}

EngineImpl::~EngineImpl() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  thread_.join();
}

absl::Status EngineImpl::ValidateRequest(const GenerateRequest& request) const {
  const ModelSpec& spec = runner_->spec();
  if (request.prompt.empty()) return absl::InvalidArgumentError("the prompt is empty");
  for (TokenId id : request.prompt)
    if (id < 0 || id >= spec.vocab_size)
      return absl::InvalidArgumentError(
          absl::StrCat("token id ", id, " is outside the vocabulary [0, ", spec.vocab_size, ")"));
  return request.sampling.Validate();
}

absl::StatusOr<std::shared_ptr<RequestStream>> EngineImpl::Submit(GenerateRequest request) {
  RETURN_IF_ERROR(ValidateRequest(request));
  ASSIGN_OR_RETURN(RequestPlan plan, router_->Plan(request));
  std::shared_ptr<RequestStreamImpl> stream;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ || draining_) return absl::UnavailableError("the engine is draining or stopped");
    if (static_cast<int>(inbox_.size()) + stats_.waiting_requests >= config_.max_waiting)
      return absl::ResourceExhaustedError(absl::StrCat(
          "the waiting queue is full (", config_.max_waiting, " requests); retry later"));
    const RequestId id(next_id_++);
    for (const LayerKindPlan& layer : plan.layers) ++requests_by_backend_[layer.backend];
    stream = std::make_shared<RequestStreamImpl>(id, std::move(plan));
    inbox_.push_back({std::move(request), stream, id.value});
    ++num_admitted_;
  }
  work_cv_.notify_all();
  return std::shared_ptr<RequestStream>(stream);
}

void EngineImpl::Cancel(RequestId id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancels_.push_back(id);
  }
  work_cv_.notify_all();
}

EngineStats EngineImpl::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  EngineStats stats = stats_;
  stats.waiting_requests += static_cast<int>(inbox_.size());
  for (const auto& [backend, count] : requests_by_backend_)
    stats.requests_by_backend.emplace_back(backend, count);
  std::sort(stats.requests_by_backend.begin(), stats.requests_by_backend.end());
  return stats;
}

void EngineImpl::Drain() {
  std::unique_lock<std::mutex> lock(mu_);
  draining_ = true;
  // Stats are published after each step: wait for them too, so Stats() reflects the drain.
  idle_cv_.wait(lock, [&] {
    return stop_ || (num_admitted_ == 0 && stats_.running_requests == 0 &&
                     stats_.waiting_requests == 0 && inbox_.empty());
  });
}

void EngineImpl::Loop() {
  while (true) {
    std::deque<Pending> incoming;
    std::vector<RequestId> cancels;
    const bool has_work = !scheduler_.empty();
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock,
                    [&] { return stop_ || has_work || !inbox_.empty() || !cancels_.empty(); });
      if (stop_) break;
      incoming.swap(inbox_);
      cancels.swap(cancels_);
      // Keep the queue bound exact until the next PublishStats.
      stats_.waiting_requests += static_cast<int>(incoming.size());
    }
    for (Pending& p : incoming) Admit(std::move(p));
    for (RequestId id : cancels) CancelNow(id);
    if (!scheduler_.empty()) Step();
    PublishStats();
  }
  std::vector<RequestId> left;
  for (const auto& [id, active] : active_) left.push_back(id);
  for (RequestId id : left)
    Finish(id, FinishReason::kError, absl::UnavailableError("the engine stopped"));
  std::lock_guard<std::mutex> lock(mu_);
  for (Pending& p : inbox_) {
    GenerationDelta delta;
    delta.finish = FinishReason::kError;
    delta.error = absl::UnavailableError("the engine stopped");
    delta.time = std::chrono::steady_clock::now();
    p.stream->Push(std::move(delta));
  }
  inbox_.clear();
  num_admitted_ = 0;
  idle_cv_.notify_all();
}

void EngineImpl::Admit(Pending pending) {
  const RequestPlan& plan = pending.stream->plan();
  SchedulerRequest r;
  r.id = pending.stream->id();
  r.priority = pending.request.priority;
  r.arrival = pending.arrival;
  r.tokens = std::move(pending.request.prompt);
  r.num_prompt_tokens = static_cast<int>(r.tokens.size());
  prompt_tokens_total_ += r.num_prompt_tokens;
  r.policy = plan.policy;
  r.prefix_cacheable = prefix_cacheable_model_ && plan.policy.mode == AttentionPolicy::Mode::kFull;
  Active active;
  active.stream = std::move(pending.stream);
  active.sampling = pending.request.sampling;
  active.sampler = std::make_unique<Sampler>(active.sampling);
  const SamplingParams& s = active.sampling;
  active.device_sampling = s.repetition_penalty == 1.0f && s.presence_penalty == 0.0f &&
                           s.frequency_penalty == 0.0f && s.logprobs == 0;
  active.device_seed =
      s.seed ? *s.seed : (uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
  active_.emplace(r.id, std::move(active));
  scheduler_.Add(std::move(r));
}

void EngineImpl::CancelNow(RequestId id) {
  if (active_.contains(id)) Finish(id, FinishReason::kCancelled);
}

GenerationDelta EngineImpl::DeltaFor(const SchedulerRequest& r) const {
  GenerationDelta delta;
  delta.usage.prompt_tokens = r.num_prompt_tokens;
  delta.usage.completion_tokens = r.num_generated();
  delta.usage.cached_prompt_tokens = r.num_cached_prompt_tokens;
  delta.time = std::chrono::steady_clock::now();
  return delta;
}

void EngineImpl::Finish(RequestId id, FinishReason reason, absl::Status error) {
  auto it = active_.find(id);
  JUNCTION_CHECK(it != active_.end());
  const SchedulerRequest* r = scheduler_.Find(id);
  GenerationDelta delta = r ? DeltaFor(*r) : GenerationDelta{};
  delta.finish = reason;
  delta.error = std::move(error);
  it->second.stream->Push(std::move(delta));
  scheduler_.Remove(id);
  active_.erase(it);
  std::lock_guard<std::mutex> lock(mu_);
  --num_admitted_;
}

bool EngineImpl::StopsAfter(const Active& active, const SchedulerRequest& r,
                            FinishReason& reason) const {
  const TokenId last = r.tokens.back();
  const SamplingParams& s = active.sampling;
  const std::vector<TokenId>& eos = runner_->spec().eos_token_ids;
  const bool is_eos = std::find(eos.begin(), eos.end(), last) != eos.end();
  const bool is_stop =
      std::find(s.stop_token_ids.begin(), s.stop_token_ids.end(), last) != s.stop_token_ids.end();
  if ((is_eos && !s.ignore_eos) || is_stop) {
    reason = FinishReason::kStop;
    return true;
  }
  if (r.num_generated() >= s.max_tokens) {
    reason = FinishReason::kLength;
    return true;
  }
  return false;
}

void EngineImpl::Step() {
  StepBatch batch = scheduler_.Schedule();
  PublishStats();  // admissions change the queue bound Submit checks: publish before streaming
  if (batch.chunks.empty()) {
    // Only reachable if the waiting head can never be admitted, which Submit rules out; fail it
    // rather than spin.
    const std::vector<RequestId> waiting = scheduler_.waiting();
    JUNCTION_CHECK(scheduler_.num_running() == 0 && !waiting.empty());
    Finish(waiting.front(), FinishReason::kError,
           absl::ResourceExhaustedError("the request cannot be scheduled in this cache"));
    return;
  }
  std::vector<SampledToken> details;
  if (absl::Status status = ForwardAndSampleStep(batch, details); !status.ok()) {
    scheduler_.AbandonStep();
    for (const ScheduledChunk& chunk : batch.chunks)
      Finish(chunk.request, FinishReason::kError, status);
    return;
  }
  std::vector<TokenId> sampled;
  for (const SampledToken& token : details) sampled.push_back(token.id);
  scheduler_.Update(sampled);
  generated_tokens_total_ += static_cast<int64_t>(sampled.size());
  size_t next = 0;
  for (const ScheduledChunk& chunk : batch.chunks) {
    if (chunk.logits != LogitsMode::kLast) continue;
    const SampledToken& token = details[next++];
    const SchedulerRequest& r = *scheduler_.Find(chunk.request);
    Active& active = active_.at(chunk.request);
    GenerationDelta delta = DeltaFor(r);
    delta.token_ids = {token.id};
    if (active.sampling.logprobs > 0)
      delta.logprobs.push_back({token.id, token.logprob, token.top_logprobs});
    FinishReason reason = FinishReason::kNone;
    if (StopsAfter(active, r, reason)) {
      delta.finish = reason;
      active.stream->Push(std::move(delta));
      Finish(chunk.request, reason);  // the stream is closed: this final delta is dropped
    } else {
      active.stream->Push(std::move(delta));
    }
  }
}

bool EngineImpl::PlanDeviceRows(const StepBatch& batch) {
  row_sampling_.clear();
  if (!config_.device_sampling || !runner_->SamplesOnDevice()) return false;
  bool any = false;
  for (const ScheduledChunk& chunk : batch.chunks) {
    if (chunk.logits == LogitsMode::kAll) return false;  // every row's logits are wanted
    if (chunk.logits != LogitsMode::kLast) continue;
    const Active& active = active_.at(chunk.request);
    RowSampling row;
    if (active.device_sampling) {
      const SamplingParams& s = active.sampling;
      row.on_device = any = true;
      row.temperature = s.temperature;
      row.top_k = std::max(s.top_k, 0);
      row.top_p = s.top_p;
      row.min_p = s.min_p;
      row.seed = active.device_seed;
      row.offset = static_cast<uint64_t>(scheduler_.Find(chunk.request)->num_generated());
    }
    row_sampling_.push_back(row);
  }
  return any;
}

absl::Status EngineImpl::ForwardAndSampleStep(const StepBatch& batch,
                                              std::vector<SampledToken>& tokens) {
  const bool on_device = PlanDeviceRows(batch);
  const int vocab = runner_->spec().vocab_size;
  size_t num_host_rows = batch.NumLogitRows();
  if (on_device) {
    RETURN_IF_ERROR(runner_->ForwardAndSample(batch, row_sampling_, device_ids_, logits_));
    if (device_ids_.size() != row_sampling_.size())
      return absl::InternalError("the runner returned a wrong number of sampled ids");
    num_host_rows = 0;
    for (size_t i = 0; i < row_sampling_.size(); ++i) {
      if (!row_sampling_[i].on_device) {
        ++num_host_rows;
      } else if (device_ids_[i] < 0 || device_ids_[i] >= vocab) {
        return absl::InternalError(absl::StrCat("the runner sampled token id ", device_ids_[i],
                                                " outside the vocabulary"));
      }
    }
  } else {
    RETURN_IF_ERROR(runner_->ForwardToHost(batch, logits_));
  }
  JUNCTION_CHECK(logits_.size() == num_host_rows * vocab);
  size_t row = 0, host_row = 0;
  for (const ScheduledChunk& chunk : batch.chunks) {
    if (chunk.logits == LogitsMode::kAll) host_row += chunk.num_tokens;  // not sampled here
    if (chunk.logits != LogitsMode::kLast) continue;
    if (on_device && row_sampling_[row].on_device) {
      tokens.emplace_back().id = device_ids_[row];
    } else {
      const SchedulerRequest& r = *scheduler_.Find(chunk.request);
      std::span<float> logits(logits_.data() + host_row * vocab, vocab);
      std::span<const TokenId> prompt(r.tokens.data(), r.num_prompt_tokens);
      std::span<const TokenId> output(r.tokens.data() + r.num_prompt_tokens, r.num_generated());
      tokens.push_back(active_.at(chunk.request).sampler->Sample(logits, prompt, output));
      ++host_row;
    }
    ++row;
  }
  return absl::OkStatus();
}

void EngineImpl::PublishStats() {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.running_requests = scheduler_.num_running();
  stats_.waiting_requests = scheduler_.num_waiting();
  stats_.kv_blocks_used = memory_.num_used_blocks();
  stats_.state_slots_used = memory_.num_state_slots() - memory_.num_free_state_slots();
  stats_.preemptions_total = scheduler_.preemptions_total();
  stats_.prefix_cache_hit_tokens_total = scheduler_.prefix_hit_tokens_total();
  stats_.prompt_tokens_total = prompt_tokens_total_;
  stats_.generated_tokens_total = generated_tokens_total_;
  if (num_admitted_ == 0) idle_cv_.notify_all();
}

namespace {

// > 0 when every attention-like layer slides with a model-defined window (the largest one).
int ModelWindow(const ModelSpec& spec) {
  int window = 0;
  for (const LayerSpec& layer : spec.layers) {
    if (!layer.mixer) continue;
    const MixerKind kind = layer.mixer->kind;
    if (kind != MixerKind::kAttention && kind != MixerKind::kSlidingWindow &&
        kind != MixerKind::kPath)
      continue;
    const auto* a = std::get_if<AttentionSpec>(&layer.mixer->params);
    if (a == nullptr || a->sliding_window <= 0) return 0;
    window = std::max(window, a->sliding_window);
  }
  return window;
}

// Prefix caching is exact only when every mixer is full softmax attention: recurrent and PaTH
// state at a block boundary is not stored, and windowed layers drop keys.
bool AllFullAttention(const ModelSpec& spec) {
  for (const LayerSpec& layer : spec.layers) {
    if (!layer.mixer) continue;
    if (layer.mixer->kind != MixerKind::kAttention) return false;
    const auto* a = std::get_if<AttentionSpec>(&layer.mixer->params);
    if (a == nullptr || a->sliding_window > 0) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<EngineApi>> CreateEngine(const ModelSpec& spec,
                                                        const EngineConfig& config,
                                                        const DeviceInfo& device,
                                                        const BackendRegistry& registry,
                                                        RunnerFactory make_runner) {
  RETURN_IF_ERROR(config.Validate());
  MemoryBudgetInput input;
  input.block_size = config.block_size;
  input.kv_memory_bytes = config.kv_memory_bytes;
  input.max_num_seqs = config.max_num_seqs;
  input.device_class = device.device_class;
  ASSIGN_OR_RETURN(MemoryBudget budget, ComputeMemoryBudget(spec, input));
  ASSIGN_OR_RETURN(std::unique_ptr<ModelRunner> runner, make_runner(budget.geometry));
  if (runner == nullptr) return absl::InternalError("the runner factory returned no runner");
  const CacheGeometry& cache = runner->cache();
  if (cache.block_size != budget.geometry.block_size)
    return absl::InternalError("the runner changed the KV block size");
  SchedulerConfig scheduler;
  scheduler.max_num_seqs = config.max_num_seqs;
  scheduler.max_batched_tokens = config.max_batched_tokens;
  scheduler.needs_kv_blocks = spec.NumLayersWithKvCache() > 0;
  scheduler.needs_state_slots = NeedsStateSlots(spec);
  scheduler.model_window = ModelWindow(spec);
  if (scheduler.needs_state_slots) {
    if (cache.num_state_slots < 1) return absl::InternalError("the runner has no state slots");
    scheduler.max_num_seqs = std::min(scheduler.max_num_seqs, cache.num_state_slots);
  }
  RouterConfig route;
  route.attention_policy = config.attention_policy;
  route.attention_backend = config.attention_backend;
  route.window_sinks = config.window_sinks;
  route.window_size = config.window_size;
  route.block_size = cache.block_size;
  route.num_blocks = scheduler.needs_kv_blocks ? cache.num_blocks : INT32_MAX;
  route.max_batched_tokens = config.max_batched_tokens;
  route.model_window = scheduler.model_window;
  auto router = std::make_unique<Router>(runner->spec(), runner->device(), registry,
                                         runner->layer_backends(), route);
  return std::unique_ptr<EngineApi>(std::make_unique<EngineImpl>(
      config, std::move(runner), std::move(router), scheduler, AllFullAttention(spec)));
}

}  // namespace junction
