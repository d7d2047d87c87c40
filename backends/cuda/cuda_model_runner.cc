// The CUDA model runner: embedding (into a float32 residual stream), per layer (add + RMSNorm ->
// mixer, add + RMSNorm -> SwiGLU or relu² MLP), final add + norm of the rows that need logits, LM
// head in float32 out. bf16 activations and weights, float32 accumulation everywhere.
// ForwardAndSample samples the rows the engine marks right after the LM head and copies back only
// their ids plus the other rows' logits. With CudaRunnerOptions::cuda_graphs, decode-only steps
// replay CUDA graphs (decode_graphs.h): the inputs and every layer's plan are uploaded eagerly,
// then the embedding .. LM head .. sampling kernels run as one graph launch.
#include <cstring>
#include <optional>
#include <span>

#include "absl/strings/str_cat.h"
#include "backends/cuda/attention_layer.h"
#include "backends/cuda/cuda_backends.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_context.h"
#include "backends/cuda/decode_graphs.h"
#include "backends/cuda/device_weights.h"
#include "backends/cuda/gemm.h"
#include "backends/cuda/kernels/dense_ops.h"
#include "backends/cuda/kernels/sampling.h"
#include "engine/common/status_macros.h"

namespace junction::cuda {
namespace {

struct CudaMlp {
  MlpKind kind = MlpKind::kSwiGlu;
  int64_t intermediate = 0;
  // SwiGLU: [2 * intermediate, hidden], gate rows then up rows; relu²: up only [intermediate,
  // hidden].
  const void* gate_up = nullptr;
  const void* down = nullptr;  // [hidden, intermediate]
};

struct CudaLayer {
  std::unique_ptr<MixerLayer> mixer;
  std::string backend;
  const float* mixer_norm = nullptr;
  std::optional<CudaMlp> mlp;
  const float* mlp_norm = nullptr;
};

class CudaModelRunner : public ModelRunner {
 public:
  CudaModelRunner(ModelSpec spec, std::shared_ptr<const WeightStore> weights, CacheGeometry cache,
                  CudaContext* cuda)
      : spec_(std::move(spec)), weights_(std::move(weights)), cache_(cache), cuda_(cuda) {}

  DecodeGraphStats graph_stats() const { return graphs_ ? graphs_->stats() : DecodeGraphStats{}; }

  absl::Status Load(const BackendRegistry& registry, const CudaRunnerOptions& options);
  absl::Status ForwardToHost(const StepBatch& batch, std::vector<float>& logits) override;
  bool SamplesOnDevice() const override { return true; }
  absl::Status ForwardAndSample(const StepBatch& batch, std::span<const RowSampling> rows,
                                std::vector<TokenId>& ids,
                                std::vector<float>& host_logits) override;

  const ModelSpec& spec() const override { return spec_; }
  const CacheGeometry& cache() const override { return cache_; }
  const DeviceInfo& device() const override { return cuda_->device(); }
  std::vector<LayerBackend> layer_backends() const override {
    std::vector<LayerBackend> out;
    for (size_t i = 0; i < layers_.size(); ++i)
      if (layers_[i].mixer)
        out.push_back({static_cast<int>(i), spec_.layers[i].mixer->kind, layers_[i].backend});
    return out;
  }

 private:
  absl::Status LoadMlp(const LayerSpec& layer_spec, CudaLayer& layer);
  // Attention layers that would plan alike use the first such layer's plan: one host plan and
  // one upload per step for the model instead of one per layer. PrepareStep plans layers in
  // order, so the leader is always planned first.
  void SharePlans();
  absl::Status Reserve(int num_tokens, int num_rows);
  absl::Status RunMlp(const CudaMlp& mlp, int num_tokens);
  // Where a step's inputs lie in inputs_ / logits_.
  struct StepLayout {
    int num_rows = 0;      // logit rows
    int num_sampled = 0;   // of which sampled on the device (the first ones in logits_)
    size_t params_at = 0;  // byte offset of the SampleRowParams in inputs_
  };
  // Checks the token ids, grows the buffers, plans every layer and uploads the inputs (one
  // asynchronous copy; the rows sampled on the device first).
  absl::StatusOr<StepLayout> PrepareStep(const StepBatch& batch,
                                         std::span<const RowSampling> sampling);
  // The whole step; `sampling` empty: every logit row to the host (ForwardToHost).
  absl::Status Forward(const StepBatch& batch, std::span<const RowSampling> sampling,
                       std::vector<TokenId>* ids, std::vector<float>& host_logits);
  // Embedding to LM head over the uploaded inputs: logits_ rows [num_rows, vocab] for the
  // tokens listed at inputs_ + n.
  absl::Status RunModel(int n, int num_rows);
  // True when `batch` may run as a graph: decode tokens only, no chunk wanting all logits, and
  // every layer keyed. `key` then holds the runner's values (counts, buffer pointers) and the
  // layers' keys.
  bool StepGraphKey(const StepBatch& batch, int num_rows, int num_sampled, GraphKey& key) const;

  static constexpr DType kDType = DType::kBF16;
  ModelSpec spec_;
  std::shared_ptr<const WeightStore> weights_;
  CacheGeometry cache_;
  CudaContext* cuda_;
  DeviceArena arena_;
  const void* embedding_ = nullptr;
  const float* final_norm_ = nullptr;
  const void* lm_head_ = nullptr;
  std::vector<CudaLayer> layers_;
  int64_t max_intermediate_ = 0;
  std::unique_ptr<DecodeGraphs> graphs_;  // null: graphs off
  // Per-step buffers (grow-only).
  DeviceBuffer x_, h_, y_, gate_up_, act_, rows_h_, logits_, inputs_;
  // inputs_: token ids [n], logit-row token indices [num_rows], then (8-byte aligned) the
  // sampled rows' SampleRowParams. logits_: [num_rows, vocab] float32 (sampled rows first), then
  // the sampled ids as int32, so the host rows and the ids come back in one copy.
  PinnedBuffer inputs_host_, logits_host_;
};

size_t AlignTo8(size_t bytes) { return (bytes + 7) & ~size_t{7}; }

absl::Status CudaModelRunner::LoadMlp(const LayerSpec& layer_spec, CudaLayer& layer) {
  const MlpSpec& mlp_spec = *layer_spec.mlp;
  const int64_t hidden = spec_.hidden_size, inter = mlp_spec.intermediate_size;
  CudaMlp mlp;
  mlp.kind = mlp_spec.kind;
  mlp.intermediate = inter;
  if (mlp_spec.kind == MlpKind::kRelu2) {
    ASSIGN_OR_RETURN(mlp.gate_up,
                     UploadStacked(arena_, *weights_, {mlp_spec.up}, {inter}, hidden, kDType));
  } else if (!mlp_spec.fused_gate_up.empty()) {
    ASSIGN_OR_RETURN(mlp.gate_up, UploadStacked(arena_, *weights_, {mlp_spec.fused_gate_up},
                                                {2 * inter}, hidden, kDType));
  } else {
    ASSIGN_OR_RETURN(mlp.gate_up, UploadStacked(arena_, *weights_, {mlp_spec.gate, mlp_spec.up},
                                                {inter, inter}, hidden, kDType));
  }
  ASSIGN_OR_RETURN(mlp.down,
                   UploadStacked(arena_, *weights_, {mlp_spec.down}, {hidden}, inter, kDType));
  ASSIGN_OR_RETURN(layer.mlp_norm, UploadF32(arena_, *weights_, layer_spec.mlp_norm, {hidden}));
  layer.mlp = mlp;
  max_intermediate_ = std::max(max_intermediate_, inter);
  return absl::OkStatus();
}

absl::Status CudaModelRunner::Load(const BackendRegistry& registry,
                                   const CudaRunnerOptions& options) {
  const int64_t hidden = spec_.hidden_size, vocab = spec_.vocab_size;
  ASSIGN_OR_RETURN(embedding_,
                   UploadStacked(arena_, *weights_, {spec_.embedding}, {vocab}, hidden, kDType));
  ASSIGN_OR_RETURN(final_norm_, UploadF32(arena_, *weights_, spec_.final_norm, {hidden}));
  if (spec_.lm_head == spec_.embedding) {
    lm_head_ = embedding_;
  } else {
    ASSIGN_OR_RETURN(lm_head_,
                     UploadStacked(arena_, *weights_, {spec_.lm_head}, {vocab}, hidden, kDType));
  }
  for (int i = 0; i < static_cast<int>(spec_.layers.size()); ++i) {
    const LayerSpec& layer_spec = spec_.layers[i];
    CudaLayer layer;
    if (layer_spec.mixer) {
      auto pinned = options.pinned.find(layer_spec.mixer->kind);
      ASSIGN_OR_RETURN(BackendSelection selection,
                       registry.Select(*layer_spec.mixer, cuda_->device(),
                                       pinned == options.pinned.end() ? "" : pinned->second));
      LayerContext context{&spec_, i, &*layer_spec.mixer, weights_.get(), cache_};
      ASSIGN_OR_RETURN(layer.mixer, selection.backend->CreateLayer(context));
      layer.backend = selection.backend->descriptor().name;
      ASSIGN_OR_RETURN(layer.mixer_norm,
                       UploadF32(arena_, *weights_, layer_spec.mixer_norm, {hidden}));
    }
    if (layer_spec.mlp) RETURN_IF_ERROR(LoadMlp(layer_spec, layer));
    layers_.push_back(std::move(layer));
  }
  SharePlans();
  if (options.cuda_graphs) graphs_ = std::make_unique<DecodeGraphs>();
  return absl::OkStatus();
}

void CudaModelRunner::SharePlans() {
  std::vector<const CudaAttentionLayer*> leaders;
  for (CudaLayer& layer : layers_) {
    auto* attention = dynamic_cast<CudaAttentionLayer*>(layer.mixer.get());
    if (attention == nullptr) continue;
    bool shared = false;
    for (const CudaAttentionLayer* leader : leaders)
      if ((shared = attention->SharePlanOf(*leader))) break;
    if (!shared) leaders.push_back(attention);
  }
}

absl::Status CudaModelRunner::Reserve(int num_tokens, int num_rows) {
  const size_t t = std::max(num_tokens, 1), r = std::max(num_rows, 1);
  const size_t hidden = spec_.hidden_size, elem = DTypeSize(kDType);
  RETURN_IF_ERROR(x_.Reserve(t * hidden * sizeof(float)));
  RETURN_IF_ERROR(h_.Reserve(t * hidden * elem));
  RETURN_IF_ERROR(y_.Reserve(t * hidden * elem));
  RETURN_IF_ERROR(gate_up_.Reserve(t * 2 * max_intermediate_ * elem));
  RETURN_IF_ERROR(act_.Reserve(t * max_intermediate_ * elem));
  RETURN_IF_ERROR(rows_h_.Reserve(r * hidden * elem));
  const size_t logits_bytes = r * spec_.vocab_size * sizeof(float) + r * sizeof(int32_t);
  RETURN_IF_ERROR(logits_.Reserve(logits_bytes));
  RETURN_IF_ERROR(logits_host_.Reserve(logits_bytes));
  const size_t inputs_bytes = AlignTo8((t + r) * sizeof(int32_t)) + r * sizeof(SampleRowParams);
  RETURN_IF_ERROR(inputs_.Reserve(inputs_bytes));
  RETURN_IF_ERROR(inputs_host_.Reserve(inputs_bytes));
  return absl::OkStatus();
}

absl::Status CudaModelRunner::RunMlp(const CudaMlp& mlp, int n) {
  const cudaStream_t stream = cuda_->stream();
  if (mlp.kind == MlpKind::kRelu2) {
    RETURN_IF_ERROR(Gemm(*cuda_, {h_.data(), mlp.gate_up, act_.data(), n, mlp.intermediate,
                                  spec_.hidden_size, kDType, kDType}));
    LaunchRelu2(act_.data(), int64_t{n} * mlp.intermediate, kDType, stream);
  } else {
    RETURN_IF_ERROR(Gemm(*cuda_, {h_.data(), mlp.gate_up, gate_up_.data(), n, 2 * mlp.intermediate,
                                  spec_.hidden_size, kDType, kDType}));
    LaunchSwiGlu({gate_up_.data(), act_.data(), n, mlp.intermediate}, kDType, stream);
  }
  RETURN_IF_ERROR(Gemm(*cuda_, {act_.data(), mlp.down, y_.data(), n, spec_.hidden_size,
                                mlp.intermediate, kDType, kDType}));
  return absl::OkStatus();
}

absl::Status CudaModelRunner::ForwardToHost(const StepBatch& batch, std::vector<float>& logits) {
  return Forward(batch, {}, nullptr, logits);
}

absl::Status CudaModelRunner::ForwardAndSample(const StepBatch& batch,
                                               std::span<const RowSampling> rows,
                                               std::vector<TokenId>& ids,
                                               std::vector<float>& host_logits) {
  if (static_cast<int>(rows.size()) != batch.NumLogitRows())
    return absl::InvalidArgumentError(absl::StrCat("ForwardAndSample: ", rows.size(),
                                                   " row sampling entries for ",
                                                   batch.NumLogitRows(), " logit rows"));
  return Forward(batch, rows, &ids, host_logits);
}

absl::StatusOr<CudaModelRunner::StepLayout> CudaModelRunner::PrepareStep(
    const StepBatch& batch, std::span<const RowSampling> sampling) {
  const int n = batch.num_tokens();
  for (TokenId id : batch.token_ids)
    if (id < 0 || id >= spec_.vocab_size)
      return absl::InvalidArgumentError(
          absl::StrCat("token id ", id, " is outside the vocabulary [0, ", spec_.vocab_size, ")"));
  std::vector<int32_t> rows;  // the token index of each logit row, in row order
  for (const ScheduledChunk& c : batch.chunks) {
    if (c.logits == LogitsMode::kAll)
      for (int t = 0; t < c.num_tokens; ++t) rows.push_back(c.first_token + t);
    if (c.logits == LogitsMode::kLast && c.num_tokens > 0)
      rows.push_back(c.first_token + c.num_tokens - 1);
  }
  StepLayout layout;
  layout.num_rows = static_cast<int>(rows.size());
  // Sampled rows go first in logits_ so one launch covers them and the host rows stay packed.
  std::vector<int32_t> ordered;
  std::vector<SampleRowParams> params;
  for (int i = 0; i < static_cast<int>(sampling.size()); ++i) {
    const RowSampling& s = sampling[i];
    if (!s.on_device) continue;
    ordered.push_back(rows[i]);
    SampleRowParams& p = params.emplace_back();
    p.temperature = s.temperature;
    p.top_p = s.top_p;
    p.min_p = s.min_p;
    p.top_k = s.top_k;
    p.seed = s.seed;
    p.offset = s.offset;
  }
  layout.num_sampled = static_cast<int>(params.size());
  for (int i = 0; i < layout.num_rows; ++i)
    if (sampling.empty() || !sampling[i].on_device) ordered.push_back(rows[i]);
  RETURN_IF_ERROR(Reserve(n, layout.num_rows));
  for (CudaLayer& layer : layers_)
    if (layer.mixer) RETURN_IF_ERROR(layer.mixer->Plan(batch));
  char* host_inputs = static_cast<char*>(inputs_host_.data());
  layout.params_at = AlignTo8((n + layout.num_rows) * sizeof(int32_t));
  std::memcpy(host_inputs, batch.token_ids.data(), n * sizeof(int32_t));
  std::memcpy(host_inputs + n * sizeof(int32_t), ordered.data(), layout.num_rows * sizeof(int32_t));
  const size_t params_bytes = layout.num_sampled * sizeof(SampleRowParams);
  if (params_bytes > 0) std::memcpy(host_inputs + layout.params_at, params.data(), params_bytes);
  RETURN_IF_CUDA_ERROR(cudaMemcpyAsync(inputs_.data(), host_inputs, layout.params_at + params_bytes,
                                       cudaMemcpyHostToDevice, cuda_->stream()));
  return layout;
}

absl::Status CudaModelRunner::Forward(const StepBatch& batch, std::span<const RowSampling> sampling,
                                      std::vector<TokenId>* ids, std::vector<float>& host_logits) {
  ASSIGN_OR_RETURN(const StepLayout layout, PrepareStep(batch, sampling));
  const int n = batch.num_tokens(), num_rows = layout.num_rows;
  const int num_sampled = layout.num_sampled;
  const int64_t vocab = spec_.vocab_size;
  const cudaStream_t stream = cuda_->stream();
  float* logits = logits_.as<float>();
  SamplingArgs args;
  args.logits = logits;
  args.rows = reinterpret_cast<const SampleRowParams*>(inputs_.as<char>() + layout.params_at);
  args.out_ids = reinterpret_cast<int32_t*>(logits + num_rows * vocab);
  args.num_rows = num_sampled;
  args.vocab = static_cast<int>(vocab);
  auto enqueue = [&]() -> absl::Status {
    RETURN_IF_ERROR(RunModel(n, num_rows));
    LaunchSampling(args, stream);
    return absl::OkStatus();
  };
  GraphKey key;
  if (graphs_ && StepGraphKey(batch, num_rows, num_sampled, key)) {
    RETURN_IF_ERROR(graphs_->Run(key, stream, enqueue));
  } else {
    RETURN_IF_ERROR(enqueue());
  }
  // The host rows and the ids are adjacent: one copy back.
  const size_t host_floats = static_cast<size_t>(num_rows - num_sampled) * vocab;
  const size_t back_bytes = host_floats * sizeof(float) + num_sampled * sizeof(int32_t);
  RETURN_IF_CUDA_ERROR(cudaMemcpyAsync(logits_host_.data(), logits + num_sampled * vocab,
                                       back_bytes, cudaMemcpyDeviceToHost, stream));
  RETURN_IF_CUDA_ERROR(cudaGetLastError());
  RETURN_IF_ERROR(cuda_->SynchronizeStream());
  host_logits.resize(host_floats);
  std::memcpy(host_logits.data(), logits_host_.data(), host_floats * sizeof(float));
  if (ids == nullptr) return absl::OkStatus();
  const int32_t* got = reinterpret_cast<const int32_t*>(
      static_cast<const float*>(logits_host_.data()) + host_floats);
  ids->assign(sampling.size(), -1);
  for (int i = 0, next = 0; i < static_cast<int>(sampling.size()); ++i)
    if (sampling[i].on_device) (*ids)[i] = got[next++];
  return absl::OkStatus();
}

bool CudaModelRunner::StepGraphKey(const StepBatch& batch, int num_rows, int num_sampled,
                                   GraphKey& key) const {
  for (const ScheduledChunk& c : batch.chunks)
    if (c.num_tokens != 1 || c.logits == LogitsMode::kAll) return false;
  key.push_back(static_cast<uint64_t>(batch.num_tokens()));
  key.push_back(static_cast<uint64_t>(num_rows));
  key.push_back(static_cast<uint64_t>(num_sampled));
  for (const DeviceBuffer* b : {&x_, &h_, &y_, &gate_up_, &act_, &rows_h_, &logits_, &inputs_})
    key.push_back(reinterpret_cast<uintptr_t>(b->data()));
  for (const CudaLayer& layer : layers_)
    if (layer.mixer && !layer.mixer->AppendGraphKey(key)) return false;
  return true;
}

absl::Status CudaModelRunner::RunModel(int n, int num_rows) {
  const int hidden = spec_.hidden_size;
  const cudaStream_t stream = cuda_->stream();
  const int32_t* ids = inputs_.as<int32_t>();
  float* x = x_.as<float>();
  LaunchEmbedding({ids, embedding_, x, n, hidden, spec_.embedding_multiplier}, kDType, stream);
  const void* pending = nullptr;  // the last sublayer's output, not yet added to x
  // residual += the pending sublayer output, then out = RMSNorm(residual) for `num_rows` rows
  // (all tokens, or the listed ones).
  auto add_norm = [&](const float* weight, void* out, const int32_t* rows, int num_rows) {
    AddRmsNormParams p;
    p.residual = x;
    p.delta = pending;
    p.delta_scale = spec_.residual_multiplier;
    p.weight = weight;
    p.out = out;
    p.rows = rows;
    p.num_rows = num_rows;
    p.width = hidden;
    p.eps = spec_.norm_eps;
    p.plus_one = spec_.norm_plus_one;
    LaunchAddRmsNorm(p, kDType, stream);
  };
  for (CudaLayer& layer : layers_) {
    if (layer.mixer) {
      add_norm(layer.mixer_norm, h_.data(), nullptr, n);
      layer.mixer->Run({h_.data(), kDType, n, hidden}, {y_.data(), kDType, n, hidden});
      pending = y_.data();
    }
    if (layer.mlp) {
      add_norm(layer.mlp_norm, h_.data(), nullptr, n);
      RETURN_IF_ERROR(RunMlp(*layer.mlp, n));
      pending = y_.data();
    }
  }
  // Only the rows that need logits get the last delta and the final norm: nothing reads the
  // residual stream after this.
  add_norm(final_norm_, rows_h_.data(), ids + n, num_rows);
  return Gemm(*cuda_, {rows_h_.data(), lm_head_, logits_.data(), num_rows, spec_.vocab_size, hidden,
                       kDType, DType::kF32, 1.0f / spec_.logits_divisor});
}

}  // namespace

DecodeGraphStats CudaDecodeGraphStats(const ModelRunner& runner) {
  const auto* cuda = dynamic_cast<const CudaModelRunner*>(&runner);
  return cuda ? cuda->graph_stats() : DecodeGraphStats{};
}

absl::StatusOr<std::unique_ptr<ModelRunner>> CreateCudaModelRunner(
    const ModelSpec& spec, std::shared_ptr<const WeightStore> weights,
    const BackendRegistry& registry, const CudaRunnerOptions& options) {
  ASSIGN_OR_RETURN(CudaContext * cuda, CudaContext::Default());
  auto runner = std::make_unique<CudaModelRunner>(spec, std::move(weights), options.cache, cuda);
  RETURN_IF_ERROR(runner->Load(registry, options));
  return std::unique_ptr<ModelRunner>(std::move(runner));
}

}  // namespace junction::cuda
