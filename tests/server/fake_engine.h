// A scripted EngineApi for unit tests of the front doors: every request streams `script` (one
// token per delta, then kLength), records Cancel calls, and Submit can be made to fail.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "engine/runtime/engine_api.h"
#include "engine/tokenizer/tokenizer.h"
#include "backends/loader/served_model.h"

namespace junction::testing {

class FakeStream : public RequestStream {
 public:
  FakeStream(RequestId id, std::vector<TokenId> tokens, int prompt_tokens,
             const std::set<int64_t>* cancelled, std::mutex* mutex)
      : id_(id),
        tokens_(std::move(tokens)),
        prompt_tokens_(prompt_tokens),
        cancelled_(cancelled),
        mutex_(mutex) {
    plan_.attention_policy = "full";
    plan_.layers.push_back({"attention", "fake.flash", {"fake.slow: too slow"}});
  }
  RequestId id() const override { return id_; }
  const RequestPlan& plan() const override { return plan_; }
  std::optional<GenerationDelta> Next(std::chrono::steady_clock::time_point) override {
    if (done_) return std::nullopt;
    GenerationDelta delta;
    delta.time = std::chrono::steady_clock::now();
    delta.usage.prompt_tokens = prompt_tokens_;
    bool cancelled;
    {
      std::lock_guard<std::mutex> lock(*mutex_);
      cancelled = cancelled_->count(id_.value) > 0;
    }
    if (cancelled) {
      delta.finish = FinishReason::kCancelled;
    } else if (next_ < tokens_.size()) {
      delta.token_ids.push_back(tokens_[next_++]);
      if (next_ == tokens_.size()) delta.finish = FinishReason::kLength;
    } else {
      delta.finish = FinishReason::kLength;
    }
    delta.usage.completion_tokens = static_cast<int>(next_);
    done_ = delta.finish != FinishReason::kNone;
    return delta;
  }

 private:
  RequestId id_;
  RequestPlan plan_;
  std::vector<TokenId> tokens_;
  int prompt_tokens_;
  size_t next_ = 0;
  bool done_ = false;
  const std::set<int64_t>* cancelled_;
  std::mutex* mutex_;
};

class FakeEngine : public EngineApi {
 public:
  explicit FakeEngine(ModelSpec spec) : spec_(std::move(spec)) {}

  std::vector<TokenId> script;  // tokens every request generates (capped by max_tokens)
  absl::Status submit_error;    // returned by Submit when not OK

  absl::StatusOr<std::shared_ptr<RequestStream>> Submit(GenerateRequest request) override {
    if (!submit_error.ok()) return submit_error;
    std::lock_guard<std::mutex> lock(mutex_);
    submitted_.push_back(request);
    std::vector<TokenId> tokens(
        script.begin(),
        script.begin() + std::min<size_t>(script.size(), request.sampling.max_tokens));
    return std::make_shared<FakeStream>(RequestId(next_id_++), std::move(tokens),
                                        static_cast<int>(request.prompt.size()), &cancelled_,
                                        &mutex_);
  }
  void Cancel(RequestId id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    cancelled_.insert(id.value);
  }
  EngineStats Stats() const override {
    EngineStats stats;
    stats.kv_blocks_total = 64;
    stats.requests_by_backend = {{"fake.flash", next_id_}};
    return stats;
  }
  void Drain() override {}
  const ModelSpec& spec() const override { return spec_; }

  size_t num_cancelled() {
    std::lock_guard<std::mutex> lock(mutex_);
    return cancelled_.size();
  }
  std::vector<GenerateRequest> submitted() {
    std::lock_guard<std::mutex> lock(mutex_);
    return submitted_;
  }

 private:
  ModelSpec spec_;
  std::mutex mutex_;
  std::set<int64_t> cancelled_;
  std::vector<GenerateRequest> submitted_;
  int64_t next_id_ = 0;
};

// A ServedModel over the byte-level test tokenizer and a FakeEngine (context 64, vocab 256).
inline std::unique_ptr<ServedModel> MakeFakeModel(FakeEngine** engine_out) {
  auto model = std::make_unique<ServedModel>();
  model->id = "fake-model";
  model->architecture = "FakeForCausalLM";
  model->spec.vocab_size = 256;
  model->spec.max_context = 64;
  auto tokenizer =
      Tokenizer::Load(std::string(JUNCTION_TEST_DATA_DIR) + "/data/e2e_model_tokenizer");
  if (!tokenizer.ok()) return nullptr;
  model->tokenizer = std::move(*tokenizer);
  auto engine = std::make_unique<FakeEngine>(model->spec);
  *engine_out = engine.get();
  model->engine = std::move(engine);
  return model;
}

}  // namespace junction::testing
