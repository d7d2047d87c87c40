#include "backends/cuda/attention_layer.h"

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device_weights.h"
#include "backends/cuda/gemm.h"
#include "backends/cuda/kernels/dense_ops.h"
#include "backends/cuda/kernels/flash_attention.h"
#include "engine/common/status_macros.h"
#include "engine/model/rope.h"

namespace junction::cuda {
namespace {

int64_t I64(int v) { return static_cast<int64_t>(v); }

}  // namespace

absl::StatusOr<std::unique_ptr<CudaAttentionLayer>> CudaAttentionLayer::Create(
    const LayerContext& context, CudaContext* cuda, DType dtype, bool allow_window_policy) {
  std::unique_ptr<CudaAttentionLayer> layer(new CudaAttentionLayer());
  const AttentionSpec& spec = std::get<AttentionSpec>(context.mixer->params);
  layer->cuda_ = cuda;
  layer->dtype_ = dtype;
  layer->spec_ = spec;
  layer->hidden_ = context.model->hidden_size;
  layer->norm_eps_ = context.model->norm_eps;
  layer->norm_plus_one_ = context.model->norm_plus_one;
  const WeightStore& w = *context.weights;
  const std::string& p = context.mixer->weight_prefix;
  const int64_t hidden = layer->hidden_;
  // With the output gate q_proj holds, per head, the query rows and then the gate rows.
  const int64_t q_rows = I64(spec.num_heads) * spec.head_dim * (spec.output_gate ? 2 : 1);
  const int64_t kv_rows = I64(spec.num_kv_heads) * spec.head_dim;
  const int64_t o_cols = I64(spec.num_heads) * spec.head_dim;
  layer->qkv_width_ = q_rows + 2 * kv_rows;
  DeviceArena& arena = layer->weights_;
  ASSIGN_OR_RETURN(
      layer->w_qkv_,
      UploadStacked(arena, w, {p + "q_proj.weight", p + "k_proj.weight", p + "v_proj.weight"},
                    {q_rows, kv_rows, kv_rows}, hidden, dtype));
  ASSIGN_OR_RETURN(layer->w_o_,
                   UploadStacked(arena, w, {p + "o_proj.weight"}, {hidden}, o_cols, dtype));
  if (spec.qkv_bias) {
    std::vector<float> bias;
    for (const auto& [name, rows] :
         {std::pair{p + "q_proj.bias", q_rows}, std::pair{p + "k_proj.bias", kv_rows},
          std::pair{p + "v_proj.bias", kv_rows}}) {
      ASSIGN_OR_RETURN(const float* b, w.GetF32(name, {rows}));
      bias.insert(bias.end(), b, b + rows);
    }
    ASSIGN_OR_RETURN(void* dev, arena.Upload(bias.data(), bias.size() * sizeof(float)));
    layer->qkv_bias_ = static_cast<const float*>(dev);
  }
  if (spec.o_bias) {
    ASSIGN_OR_RETURN(layer->o_bias_, UploadF32(arena, w, p + "o_proj.bias", {hidden}));
  }
  if (spec.qk_norm) {
    ASSIGN_OR_RETURN(layer->q_norm_, UploadF32(arena, w, p + "q_norm.weight", {spec.head_dim}));
    ASSIGN_OR_RETURN(layer->k_norm_, UploadF32(arena, w, p + "k_norm.weight", {spec.head_dim}));
  }
  const RopeFrequencies rope = ComputeRopeFrequencies(spec.rope);
  if (!rope.inv_freq.empty()) {
    ASSIGN_OR_RETURN(void* dev,
                     arena.Upload(rope.inv_freq.data(), rope.inv_freq.size() * sizeof(float)));
    layer->inv_freq_ = static_cast<const float*>(dev);
    layer->attention_scaling_ = rope.attention_scaling;
  }
  FlashPlanConfig& config = layer->plan_config_;
  config.sliding_window = spec.sliding_window;
  config.window_policy = allow_window_policy;
  config.num_heads = spec.num_heads;
  config.num_kv_heads = spec.num_kv_heads;
  config.head_dim = spec.head_dim;
  config.block_size = context.cache.block_size;
  config.num_blocks = context.cache.num_blocks;
  config.num_sms = cuda->num_sms();
  config.decode_ctas_per_sm = FlashDecodeCtasPerSm(spec.head_dim);
  const size_t cache_bytes = static_cast<size_t>(context.cache.num_blocks) *
                             context.cache.block_size * kv_rows * DTypeSize(dtype);
  ASSIGN_OR_RETURN(layer->k_cache_, DeviceBuffer::Allocate(cache_bytes));
  ASSIGN_OR_RETURN(layer->v_cache_, DeviceBuffer::Allocate(cache_bytes));
  RETURN_IF_CUDA_ERROR(cudaMemset(layer->k_cache_.data(), 0, cache_bytes));
  RETURN_IF_CUDA_ERROR(cudaMemset(layer->v_cache_.data(), 0, cache_bytes));
  RETURN_IF_CUDA_ERROR(cudaDeviceSynchronize());  // order the legacy-stream memsets first
  return layer;
}

bool CudaAttentionLayer::SharePlanOf(const CudaAttentionLayer& leader) {
  if (&leader == this || !leader.plan_leader_ || !(leader.plan_config_ == plan_config_))
    return false;
  plan_ = leader.plan_;
  plan_leader_ = false;
  plan_builds_seen_ = plan_->builds();
  return true;
}

absl::Status CudaAttentionLayer::Plan(const StepBatch& batch) {
  if (plan_leader_) {
    RETURN_IF_ERROR(plan_->Build(batch, plan_config_, cuda_->stream()));
  } else {
    // The leader plans first each step; an unchanged count means this step's plan is missing.
    if (plan_->builds() == plan_builds_seen_)
      return absl::FailedPreconditionError(
          "attention layer shares a flash plan that was not rebuilt for this step (plan the "
          "leading layer first)");
    plan_builds_seen_ = plan_->builds();
  }
  num_tokens_ = batch.num_tokens();
  const size_t t = std::max(num_tokens_, 1);
  const int elem = DTypeSize(dtype_);
  const int64_t d = spec_.head_dim;
  RETURN_IF_ERROR(qkv_.Reserve(t * qkv_width_ * elem));
  RETURN_IF_ERROR(q_.Reserve(t * spec_.num_heads * d * elem));
  if (plan_->sink_positions() != nullptr && inv_freq_ != nullptr)
    RETURN_IF_ERROR(q_sink_.Reserve(t * spec_.num_heads * d * elem));
  RETURN_IF_ERROR(attended_.Reserve(t * spec_.num_heads * d * elem));
  return absl::OkStatus();
}

void CudaAttentionLayer::Run(const Activations& in, const Activations& out) {
  JUNCTION_CHECK(in.num_tokens == num_tokens_, "Run over %d tokens, planned %d", in.num_tokens,
                 num_tokens_);
  if (num_tokens_ == 0) return;
  const cudaStream_t stream = cuda_->stream();
  const int d = spec_.head_dim;
  const int64_t q_width = I64(spec_.num_heads) * d;
  // Sink queries differ from q only with RoPE (the CPU's UsesSinkQuery).
  const bool sink_queries = plan_->sink_positions() != nullptr && inv_freq_ != nullptr;
  CHECK_CUDA(cudaGetLastError());
  absl::Status status = Gemm(
      *cuda_, {in.data, w_qkv_, qkv_.data(), num_tokens_, qkv_width_, hidden_, dtype_, dtype_});
  JUNCTION_CHECK(status.ok(), "%s", status.ToString().c_str());

  PrepareQkvParams prep;
  prep.qkv = qkv_.data();
  prep.bias = qkv_bias_;
  prep.q_norm = q_norm_;
  prep.k_norm = k_norm_;
  prep.norm_eps = norm_eps_;
  prep.norm_plus_one = norm_plus_one_;
  prep.inv_freq = inv_freq_;
  prep.rotary_dim = spec_.rope.rotary_dim;
  prep.attention_scaling = attention_scaling_;
  prep.positions = plan_->positions();
  prep.slots = plan_->slots();
  prep.exact_rope = plan_->exact_rope();
  prep.sink_positions = sink_queries ? plan_->sink_positions() : nullptr;
  prep.output_gate = spec_.output_gate;
  prep.q_out = q_.data();
  prep.q_sink_out = sink_queries ? q_sink_.data() : nullptr;
  prep.k_cache = k_cache_.data();
  prep.v_cache = v_cache_.data();
  prep.num_tokens = num_tokens_;
  prep.num_heads = spec_.num_heads;
  prep.num_kv_heads = spec_.num_kv_heads;
  prep.head_dim = d;
  LaunchPrepareQkv(prep, dtype_, stream);

  auto bind = [&](FlashParams p) {
    p.q = q_.data();
    p.q_sink = sink_queries ? q_sink_.data() : nullptr;
    p.k_cache = k_cache_.data();
    p.v_cache = v_cache_.data();
    p.o = attended_.data();
    p.scale = spec_.scale;
    return p;
  };
  if (plan_->num_prefill_items() > 0)
    LaunchFlashPrefill(bind(plan_->PrefillParams()), dtype_, stream);
  if (plan_->num_decode_items() > 0)
    LaunchFlashDecode(bind(plan_->DecodeParams()), dtype_, stream);
  if (spec_.output_gate) {
    OutputGateParams gate;
    gate.x = attended_.data();
    gate.qkv = qkv_.data();
    gate.bias = qkv_bias_;
    gate.num_tokens = num_tokens_;
    gate.num_heads = spec_.num_heads;
    gate.head_dim = d;
    gate.qkv_width = qkv_width_;
    LaunchOutputGate(gate, dtype_, stream);
  }
  status = Gemm(*cuda_,
                {attended_.data(), w_o_, out.data, num_tokens_, hidden_, q_width, dtype_, dtype_});
  JUNCTION_CHECK(status.ok(), "%s", status.ToString().c_str());
  if (o_bias_) LaunchAddBias(out.data, o_bias_, num_tokens_, hidden_, dtype_, stream);
  CHECK_CUDA(cudaGetLastError());
}

bool CudaAttentionLayer::AppendGraphKey(std::vector<uint64_t>& key) const {
  // Prefill tiles may take the Hopper kernel, whose launch setup this key does not describe.
  if (plan_->num_prefill_items() > 0) return false;
  // What Run launches with is fixed at Create (weights, caches, shapes) or listed here.
  const FlashParams decode = plan_->DecodeParams();
  auto add = [&](const void* p) { key.push_back(reinterpret_cast<uintptr_t>(p)); };
  add(qkv_.data());
  add(q_.data());
  add(q_sink_.data());
  add(attended_.data());
  add(plan_->positions());
  add(plan_->slots());
  add(plan_->exact_rope());
  add(plan_->sink_positions());
  add(decode.chunks);
  add(decode.block_tables);
  add(decode.items);
  add(decode.merges);
  add(decode.partial_o);
  add(decode.partial_lse);
  add(decode.merge_counters);
  key.push_back(static_cast<uint64_t>(num_tokens_));
  key.push_back(static_cast<uint64_t>(decode.num_items));
  key.push_back(static_cast<uint64_t>(decode.num_merges));
  return true;
}

}  // namespace junction::cuda
