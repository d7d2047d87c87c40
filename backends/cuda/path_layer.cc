#include "backends/cuda/path_layer.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device_weights.h"
#include "backends/cuda/gemm.h"
#include "backends/cuda/kernels/dense_ops.h"
#include "engine/common/status_macros.h"

namespace junction::cuda {
namespace {

int64_t I64(int v) { return static_cast<int64_t>(v); }
int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

bool IsDecodeChunk(const ScheduledChunk& c) { return c.num_tokens == 1 && c.num_computed > 0; }

}  // namespace

absl::Status PathPlan::Build(const StepBatch& batch, const PathPlanConfig& config,
                             cudaStream_t stream) {
  config_ = config;
  num_tokens_ = batch.num_tokens();
  const int bs = config.block_size;
  chunks_.clear();
  block_tables_.clear();
  blocks_.clear();
  prefill_items_.clear();
  finalize_items_.clear();
  suffix_chunks_.clear();
  decode_items_.clear();
  merges_.clear();
  token_chunks_.assign(num_tokens_, 0);
  slots_.assign(num_tokens_, 0);
  num_partials_ = 0;
  int num_ut_blocks = 0;
  int64_t decode_work = 0;
  for (const ScheduledChunk& c : batch.chunks) {
    if (c.policy.mode == AttentionPolicy::Mode::kWindow)
      return absl::FailedPreconditionError("PaTH attention has no window policy");
    if (c.first_token < 0 || c.num_tokens < 0 || c.first_token + c.num_tokens > num_tokens_)
      return absl::InvalidArgumentError("PaTH: chunk tokens outside the step");
    const int kv_len = c.num_computed + c.num_tokens;
    const int needed = static_cast<int>(CeilDiv(kv_len, bs));
    if (static_cast<int>(c.block_table.size()) < needed)
      return absl::InvalidArgumentError(absl::StrCat(
          "PaTH: block table covers ", c.block_table.size(), " blocks, ", needed, " needed"));
    if (config.num_state_slots > 0 &&
        (!c.state_slot.valid() || c.state_slot.value >= config.num_state_slots))
      return absl::InvalidArgumentError(absl::StrCat("PaTH: state slot ", c.state_slot.value,
                                                     " is not one of ", config.num_state_slots,
                                                     " slots"));
    const int ci = static_cast<int>(chunks_.size());
    PathChunkDesc desc;
    desc.q_start = c.first_token;
    desc.q_len = c.num_tokens;
    desc.num_computed = c.num_computed;
    desc.block_table_offset = static_cast<int32_t>(block_tables_.size());
    desc.first_block = num_ut_blocks;
    desc.state_slot = c.state_slot.valid() ? c.state_slot.value : 0;
    for (int b = 0; b < needed; ++b) {
      const BlockId id = c.block_table[b];
      if (!id.valid() || id.value >= config.num_blocks)
        return absl::InvalidArgumentError(
            absl::StrCat("PaTH: block id ", id.value, " outside the cache of ", config.num_blocks));
      block_tables_.push_back(id.value);
    }
    for (int t = 0; t < c.num_tokens; ++t) {
      const int pos = c.num_computed + t;
      token_chunks_[c.first_token + t] = ci;
      slots_[c.first_token + t] = I64(c.block_table[pos / bs].value) * bs + pos % bs;
    }
    chunks_.push_back(desc);
    if (c.num_tokens == 0) continue;
    if (IsDecodeChunk(c)) {
      decode_work += kv_len;
      continue;
    }
    const int num_ut = static_cast<int>(CeilDiv(c.num_tokens, kPathBlock));
    const int cache_tiles = static_cast<int>(CeilDiv(c.num_computed, kPathBlock));
    for (int b = 0; b < num_ut; ++b) {
      blocks_.push_back({ci, b});
      prefill_items_.push_back({ci, b});
    }
    for (int t = 0; t < cache_tiles + num_ut; ++t) finalize_items_.push_back({ci, t});
    suffix_chunks_.push_back(ci);
    num_ut_blocks += num_ut;
  }
  // Split decode contexts so that about 8 CTAs per SM stream the caches.
  const int64_t target = std::max<int64_t>(1, I64(config.num_sms) * 8 / config.num_kv_heads);
  int split_keys = 0;
  if (config.min_split_keys > 0)
    split_keys = static_cast<int>(std::max<int64_t>(
        config.min_split_keys, CeilDiv(CeilDiv(decode_work, target), kPathBlock) * kPathBlock));
  for (int ci = 0; ci < static_cast<int>(chunks_.size()); ++ci)
    if (chunks_[ci].q_len == 1 && chunks_[ci].num_computed > 0) PlanDecodeChunk(ci, split_keys);
  // Longest first: the causal tail of the grid is then made of short items.
  auto cache_tiles = [&](const PathTileItem& it) {
    return static_cast<int>(CeilDiv(chunks_[it.chunk].num_computed, kPathBlock));
  };
  auto num_ut = [&](const PathTileItem& it) {
    return static_cast<int>(CeilDiv(chunks_[it.chunk].q_len, kPathBlock));
  };
  std::stable_sort(prefill_items_.begin(), prefill_items_.end(),
                   [&](const PathTileItem& a, const PathTileItem& b) {
                     return a.tile + cache_tiles(a) > b.tile + cache_tiles(b);
                   });
  auto finalize_cost = [&](const PathTileItem& it) {
    const int ct = cache_tiles(it);
    return it.tile < ct ? num_ut(it) : num_ut(it) - 1 - (it.tile - ct);
  };
  std::stable_sort(finalize_items_.begin(), finalize_items_.end(),
                   [&](const PathTileItem& a, const PathTileItem& b) {
                     return finalize_cost(a) > finalize_cost(b);
                   });
  std::stable_sort(suffix_chunks_.begin(), suffix_chunks_.end(),
                   [&](int a, int b) { return chunks_[a].q_len > chunks_[b].q_len; });

  using A = PlanUpload;
  RETURN_IF_ERROR(
      upload_.Upload({A::Of(chunks_), A::Of(block_tables_), A::Of(token_chunks_), A::Of(slots_),
                      A::Of(blocks_), A::Of(prefill_items_), A::Of(finalize_items_),
                      A::Of(decode_items_), A::Of(merges_), A::Of(suffix_chunks_)},
                     stream));
  chunks_dev_ = upload_.at<PathChunkDesc>(0);
  block_tables_dev_ = upload_.at<int32_t>(1);
  token_chunks_dev_ = upload_.at<int32_t>(2);
  slots_dev_ = upload_.at<int64_t>(3);
  blocks_dev_ = upload_.at<PathTileItem>(4);
  prefill_dev_ = upload_.at<PathTileItem>(5);
  finalize_dev_ = upload_.at<PathTileItem>(6);
  decode_dev_ = upload_.at<PathDecodeItem>(7);
  merges_dev_ = upload_.at<PathMergeItem>(8);
  suffix_chunks_dev_ = upload_.at<int32_t>(9);
  const int64_t tiles = I64(num_ut_blocks) * config.num_kv_heads;
  const int64_t d = config.head_dim;
  const int64_t ws_bytes =
      tiles * (4 * PathTileElems(config.head_dim) + kPathBlock * kPathBlock + d * d) * 2;
  if (ws_bytes > 0) RETURN_IF_ERROR(workspace_.Reserve(ws_bytes));
  if (num_partials_ > 0) {
    const int64_t rows = I64(num_partials_) * config.num_heads;  // partials x kv heads x group
    RETURN_IF_ERROR(partial_o_.Reserve(sizeof(float) * rows * config.head_dim));
    RETURN_IF_ERROR(partial_lse_.Reserve(sizeof(float) * rows));
  }
  return absl::OkStatus();
}

void PathPlan::PlanDecodeChunk(int chunk_index, int split_keys) {
  const PathChunkDesc& c = chunks_[chunk_index];
  const int kv_len = c.num_computed + 1;
  const int num_splits =
      split_keys > 0 ? static_cast<int>(std::max<int64_t>(1, CeilDiv(kv_len, split_keys))) : 1;
  const int split_len =
      static_cast<int>(CeilDiv(CeilDiv(kv_len, num_splits), kPathBlock) * kPathBlock);
  const int first_partial = num_partials_;
  int splits = 0;
  for (int begin = 0; begin < kv_len; begin += split_len, ++splits) {
    PathDecodeItem item;
    item.chunk = chunk_index;
    item.key_begin = begin;
    item.key_end = std::min(kv_len, begin + split_len);
    item.partial = num_splits > 1 ? num_partials_++ : -1;
    decode_items_.push_back(item);
  }
  if (num_splits > 1) merges_.push_back({chunk_index, first_partial, splits});
}

PathParams PathPlan::Params() const {
  PathParams p;
  p.chunks = chunks_dev_;
  p.num_chunks = num_chunks();
  p.block_tables = block_tables_dev_;
  p.slots = slots_dev_;
  p.blocks = blocks_dev_;
  p.num_blocks = static_cast<int>(blocks_.size());
  p.prefill_items = prefill_dev_;
  p.num_prefill_items = static_cast<int>(prefill_items_.size());
  p.finalize_items = finalize_dev_;
  p.num_finalize_items = static_cast<int>(finalize_items_.size());
  p.decode_items = decode_dev_;
  p.num_decode_items = static_cast<int>(decode_items_.size());
  p.merges = merges_dev_;
  p.num_merges = static_cast<int>(merges_.size());
  // Workspace: K', W, W2, W3 tiles, then M [64][64] and Q^T [d][d] per UT block and kv head.
  const int64_t tiles = I64(static_cast<int>(blocks_.size())) * config_.num_kv_heads;
  const int64_t tile_elems = tiles * PathTileElems(config_.head_dim);
  auto* ws = workspace_.as<uint16_t>();
  p.ws_k = ws;
  p.ws_w = ws + tile_elems;
  p.ws_w2 = ws + 2 * tile_elems;
  p.ws_w3 = ws + 3 * tile_elems;
  p.ws_m = ws + 4 * tile_elems;
  p.ws_r = ws + 4 * tile_elems + tiles * kPathBlock * kPathBlock;
  p.suffix_chunks = suffix_chunks_dev_;
  p.num_suffix_chunks = static_cast<int>(suffix_chunks_.size());
  p.partial_o = partial_o_.as<float>();
  p.partial_lse = partial_lse_.as<float>();
  p.num_tokens = num_tokens_;
  p.num_heads = config_.num_heads;
  p.num_kv_heads = config_.num_kv_heads;
  p.head_dim = config_.head_dim;
  p.block_size = config_.block_size;
  return p;
}

bool PathPlan::AppendGraphKey(std::vector<uint64_t>& key) const {
  if (!blocks_.empty() || !prefill_items_.empty() || !finalize_items_.empty()) return false;
  auto add = [&](const void* p) { key.push_back(reinterpret_cast<uintptr_t>(p)); };
  add(chunks_dev_);
  add(block_tables_dev_);
  add(token_chunks_dev_);
  add(slots_dev_);
  add(decode_dev_);
  add(merges_dev_);
  add(workspace_.data());
  add(partial_o_.data());
  add(partial_lse_.data());
  key.push_back(static_cast<uint64_t>(num_tokens_));
  key.push_back(chunks_.size());
  key.push_back(decode_items_.size());
  key.push_back(merges_.size());
  return true;
}

absl::StatusOr<std::unique_ptr<CudaPathLayer>> CudaPathLayer::Create(const LayerContext& context,
                                                                     CudaContext* cuda) {
  std::unique_ptr<CudaPathLayer> layer(new CudaPathLayer());
  const PathSpec& spec = std::get<PathSpec>(context.mixer->params);
  layer->cuda_ = cuda;
  layer->spec_ = spec;
  layer->hidden_ = context.model->hidden_size;
  layer->cache_ = context.cache;
  const WeightStore& w = *context.weights;
  const std::string& p = context.mixer->weight_prefix;
  const int64_t hidden = layer->hidden_;
  const int64_t q_rows = I64(spec.num_heads) * spec.head_dim;
  const int64_t kv_rows = I64(spec.num_kv_heads) * spec.head_dim;
  layer->kv_dim_ = static_cast<int>(kv_rows);
  layer->w_cols_ = spec.low_rank_w ? spec.w_rank : static_cast<int>(kv_rows);
  const int aux_rows = layer->w_cols_ + spec.num_kv_heads + (spec.forget_gate ? spec.num_heads : 0);
  layer->aux_width_ = (aux_rows + 7) / 8 * 8;
  DeviceArena& arena = layer->weights_;
  ASSIGN_OR_RETURN(
      layer->w_qkv_,
      UploadStacked(arena, w, {p + "q_proj.weight", p + "k_proj.weight", p + "v_proj.weight"},
                    {q_rows, kv_rows, kv_rows}, hidden, DType::kBF16));
  ASSIGN_OR_RETURN(layer->w_o_,
                   UploadStacked(arena, w, {p + "o_proj.weight"}, {hidden}, q_rows, DType::kBF16));
  {
    // w_proj(.0) | bt_proj | g_proj | zero rows: one fp32-output GEMM with aligned rows.
    std::vector<float> aux(static_cast<size_t>(layer->aux_width_) * hidden, 0.0f);
    int64_t row = 0;
    auto append = [&](const std::string& name, int64_t rows) -> absl::Status {
      ASSIGN_OR_RETURN(const float* src, w.GetF32(name, {rows, hidden}));
      std::copy(src, src + rows * hidden, aux.begin() + row * hidden);
      row += rows;
      return absl::OkStatus();
    };
    RETURN_IF_ERROR(
        append(p + (spec.low_rank_w ? "w_proj.0.weight" : "w_proj.weight"), layer->w_cols_));
    RETURN_IF_ERROR(append(p + "bt_proj.weight", spec.num_kv_heads));
    if (spec.forget_gate) RETURN_IF_ERROR(append(p + "g_proj.weight", spec.num_heads));
    const std::vector<uint16_t> bits =
        ToHalfBits(aux.data(), static_cast<int64_t>(aux.size()), DType::kBF16);
    ASSIGN_OR_RETURN(layer->w_aux_, arena.Upload(bits.data(), bits.size() * 2));
  }
  if (w.Contains(p + "o_proj.bias")) {
    ASSIGN_OR_RETURN(layer->o_bias_, UploadF32(arena, w, p + "o_proj.bias", {hidden}));
  }
  if (spec.low_rank_w) {
    ASSIGN_OR_RETURN(layer->w_up_,
                     UploadF32(arena, w, p + "w_proj.1.weight", {kv_rows, spec.w_rank}));
  }
  if (spec.w_shortconv) {
    ASSIGN_OR_RETURN(layer->conv_,
                     UploadF32(arena, w, p + "w_conv1d.weight", {kv_rows, 1, spec.conv_kernel}));
  }
  ASSIGN_OR_RETURN(layer->bt_bias_, UploadF32(arena, w, p + "bt_proj.bias", {spec.num_kv_heads}));
  if (spec.forget_gate) {
    ASSIGN_OR_RETURN(layer->g_bias_, UploadF32(arena, w, p + "g_proj.bias", {spec.num_heads}));
  }
  const size_t positions = static_cast<size_t>(context.cache.num_blocks) * context.cache.block_size;
  auto zeroed = [](DeviceBuffer& buffer, size_t bytes) -> absl::Status {
    if (bytes == 0) return absl::OkStatus();
    ASSIGN_OR_RETURN(buffer, DeviceBuffer::Allocate(bytes));
    RETURN_IF_CUDA_ERROR(cudaMemset(buffer.data(), 0, bytes));
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(zeroed(layer->k_cache_, positions * kv_rows * 2));
  RETURN_IF_ERROR(zeroed(layer->v_cache_, positions * kv_rows * 2));
  if (spec.forget_gate)
    RETURN_IF_ERROR(zeroed(layer->f_cache_, positions * spec.num_heads * sizeof(float)));
  if (spec.w_shortconv)
    RETURN_IF_ERROR(zeroed(layer->conv_state_, static_cast<size_t>(context.cache.num_state_slots) *
                                                   kv_rows * (spec.conv_kernel - 1) *
                                                   sizeof(float)));
  RETURN_IF_CUDA_ERROR(cudaDeviceSynchronize());  // order the legacy-stream memsets first
  return layer;
}

absl::Status CudaPathLayer::Plan(const StepBatch& batch) {
  PathPlanConfig config;
  config.num_heads = spec_.num_heads;
  config.num_kv_heads = spec_.num_kv_heads;
  config.head_dim = spec_.head_dim;
  config.block_size = cache_.block_size;
  config.num_blocks = cache_.num_blocks;
  config.num_state_slots = spec_.w_shortconv ? cache_.num_state_slots : 0;
  if (spec_.w_shortconv && config.num_state_slots == 0)
    return absl::FailedPreconditionError("PaTH: the w short conv needs state slots");
  config.num_sms = cuda_->num_sms();
  RETURN_IF_ERROR(plan_.Build(batch, config, cuda_->stream()));
  num_tokens_ = batch.num_tokens();
  const size_t t = std::max(num_tokens_, 1);
  const int64_t d = spec_.head_dim;
  RETURN_IF_ERROR(qkv_.Reserve(t * (spec_.num_heads + 2 * spec_.num_kv_heads) * d * 2));
  RETURN_IF_ERROR(aux_.Reserve(t * aux_width_ * sizeof(float)));
  RETURN_IF_ERROR(w_.Reserve(t * kv_dim_ * sizeof(float)));
  RETURN_IF_ERROR(beta_.Reserve(t * spec_.num_kv_heads * sizeof(float)));
  RETURN_IF_ERROR(log_gate_.Reserve(t * spec_.num_heads * sizeof(float)));
  RETURN_IF_ERROR(forget_.Reserve(t * spec_.num_heads * sizeof(float)));
  RETURN_IF_ERROR(attended_.Reserve(t * spec_.num_heads * d * 2));
  return absl::OkStatus();
}

bool CudaPathLayer::AppendGraphKey(std::vector<uint64_t>& key) const {
  if (!plan_.AppendGraphKey(key)) return false;
  // Weights, caches and conv windows are fixed at Create.
  for (const DeviceBuffer* b : {&qkv_, &aux_, &w_, &beta_, &log_gate_, &forget_, &attended_})
    key.push_back(reinterpret_cast<uintptr_t>(b->data()));
  return true;
}

void CudaPathLayer::Run(const Activations& in, const Activations& out) {
  JUNCTION_CHECK(in.num_tokens == num_tokens_, "Run over %d tokens, planned %d", in.num_tokens,
                 num_tokens_);
  if (num_tokens_ == 0) return;
  const cudaStream_t stream = cuda_->stream();
  const int d = spec_.head_dim;
  const int64_t qkv_width = I64(spec_.num_heads + 2 * spec_.num_kv_heads) * d;
  const int64_t q_width = I64(spec_.num_heads) * d;
  CHECK_CUDA(cudaGetLastError());
  absl::Status status = Gemm(*cuda_, {in.data, w_qkv_, qkv_.data(), num_tokens_, qkv_width, hidden_,
                                      DType::kBF16, DType::kBF16});
  JUNCTION_CHECK(status.ok(), "%s", status.ToString().c_str());
  status = Gemm(*cuda_, {in.data, w_aux_, aux_.data(), num_tokens_, aux_width_, hidden_,
                         DType::kBF16, DType::kF32});
  JUNCTION_CHECK(status.ok(), "%s", status.ToString().c_str());

  PathPrepareWParams prep;
  prep.aux = aux_.as<float>();
  prep.aux_stride = aux_width_;
  prep.w_cols = w_cols_;
  prep.w_up = w_up_;
  prep.conv = conv_;
  prep.conv_kernel = spec_.conv_kernel;
  prep.conv_state = spec_.w_shortconv ? conv_state_.as<float>() : nullptr;
  prep.bt_bias = bt_bias_;
  prep.g_bias = g_bias_;
  prep.w = w_.as<float>();
  prep.beta = beta_.as<float>();
  prep.log_gate = spec_.forget_gate ? log_gate_.as<float>() : nullptr;
  prep.chunks = plan_.chunks();
  prep.token_chunks = plan_.token_chunks();
  prep.num_chunks = plan_.num_chunks();
  prep.num_tokens = num_tokens_;
  prep.num_heads = spec_.num_heads;
  prep.num_kv_heads = spec_.num_kv_heads;
  prep.head_dim = d;
  LaunchPathPrepareW(prep, stream);

  PathParams p = plan_.Params();
  p.qkv = qkv_.data();
  p.qkv_stride = qkv_width;
  p.w = w_.as<float>();
  p.beta = beta_.as<float>();
  p.log_gate = prep.log_gate;
  p.forget = spec_.forget_gate ? forget_.as<float>() : nullptr;
  p.o = attended_.data();
  p.k_cache = k_cache_.data();
  p.v_cache = v_cache_.data();
  p.f_cache = spec_.forget_gate ? f_cache_.as<float>() : nullptr;
  p.scale = spec_.scale;
  LaunchPathAttention(p, stream);

  status = Gemm(*cuda_, {attended_.data(), w_o_, out.data, num_tokens_, hidden_, q_width,
                         DType::kBF16, DType::kBF16});
  JUNCTION_CHECK(status.ok(), "%s", status.ToString().c_str());
  if (o_bias_) LaunchAddBias(out.data, o_bias_, num_tokens_, hidden_, DType::kBF16, stream);
  CHECK_CUDA(cudaGetLastError());
}

}  // namespace junction::cuda
