#include "backends/cuda/flash_plan.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "backends/cuda/cuda_check.h"
#include "engine/common/status_macros.h"

namespace junction::cuda {
namespace {


int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The CPU backend's KeyRange (backends/cpu/paged_attention.h) on a planned chunk.
int WindowBegin(const FlashChunk& c, int position) {
  return c.window > 0 ? std::max(0, position - c.window + 1) : 0;
}
int SinksEnd(const FlashChunk& c, int position) {
  return std::min(c.num_sinks, WindowBegin(c, position));
}

}  // namespace

absl::Status FlashPlan::ResolveWindow(const ScheduledChunk& chunk, FlashChunk& fc) const {
  fc.window = config_.sliding_window;
  fc.num_sinks = 0;
  if (chunk.policy.mode != AttentionPolicy::Mode::kWindow) return absl::OkStatus();
  if (!config_.window_policy)
    return absl::FailedPreconditionError(
        "this attention backend has no window policy (sinks + window)");
  if (chunk.policy.window < 1 || chunk.policy.num_sinks < 0)
    return absl::InvalidArgumentError(
        absl::StrCat("window policy needs window >= 1 and num_sinks >= 0, got window ",
                     chunk.policy.window, ", num_sinks ", chunk.policy.num_sinks));
  fc.window = fc.window > 0 ? std::min(fc.window, chunk.policy.window) : chunk.policy.window;
  fc.num_sinks = chunk.policy.num_sinks;
  return absl::OkStatus();
}

absl::Status FlashPlan::Build(const StepBatch& batch, const FlashPlanConfig& config,
                              cudaStream_t stream) {
  config_ = config;
  const int group = config.num_heads / config.num_kv_heads;
  const int bs = config.block_size;
  chunks_.clear();
  block_tables_.clear();
  prefill_items_.clear();
  decode_items_.clear();
  merges_.clear();
  positions_.assign(batch.num_tokens(), 0);
  slots_.assign(batch.num_tokens(), 0);
  exact_rope_.assign(batch.num_tokens(), 0);
  sink_positions_.assign(batch.num_tokens(), -1);
  has_window_policy_ = has_sinks_ = false;
  num_partials_ = 0;
  int64_t decode_work = 0;
  for (const ScheduledChunk& c : batch.chunks) {
    const int kv_len = c.num_computed + c.num_tokens;
    const int needed = static_cast<int>(CeilDiv(kv_len, bs));
    if (static_cast<int>(c.block_table.size()) < needed)
      return absl::InvalidArgumentError(absl::StrCat("block table covers ", c.block_table.size(),
                                                     " blocks, ", needed, " needed"));
    if (c.first_token < 0 || c.first_token + c.num_tokens > batch.num_tokens())
      return absl::InvalidArgumentError("chunk tokens outside the step");
    FlashChunk fc;
    fc.q_start = c.first_token;
    fc.q_len = c.num_tokens;
    fc.num_computed = c.num_computed;
    fc.block_table_offset = static_cast<int32_t>(block_tables_.size());
    RETURN_IF_ERROR(ResolveWindow(c, fc));
    // Keys any query of the chunk sees: [0, sinks_end) and [first_visible, kv_len).
    const int first_visible = WindowBegin(fc, c.num_computed);
    const int sinks_end = c.num_tokens > 0 ? SinksEnd(fc, kv_len - 1) : 0;
    for (int b = 0; b < needed; ++b) {
      const BlockId id = c.block_table[b];
      const bool visible = b * bs < sinks_end || (b + 1) * bs > first_visible;
      if (!id.valid() && !visible) {
        block_tables_.push_back(-1);
        continue;
      }
      if (!id.valid() || id.value >= config.num_blocks)
        return absl::InvalidArgumentError(absl::StrCat("block id ", id.value, " (logical block ",
                                                       b, ") outside the cache of ",
                                                       config.num_blocks));
      block_tables_.push_back(id.value);
    }
    const bool window_policy = c.policy.mode == AttentionPolicy::Mode::kWindow;
    has_window_policy_ |= window_policy;
    has_sinks_ |= window_policy && fc.num_sinks > 0;
    for (int t = 0; t < c.num_tokens; ++t) {
      const int pos = c.num_computed + t;
      const int row = c.first_token + t;
      positions_[row] = pos;
      slots_[row] = static_cast<int64_t>(c.block_table[pos / bs].value) * bs + pos % bs;
      exact_rope_[row] = window_policy;
      // The CPU rotates the sink query at min(p, W - 1 + num_sinks): the sinks then score as if
      // they sat just before the window.
      if (window_policy && fc.num_sinks > 0)
        sink_positions_[row] = std::min(pos, fc.window - 1 + fc.num_sinks);
    }
    if (c.num_tokens * group <= kFlashDecodeRows)
      decode_work += int64_t{kv_len - first_visible + sinks_end} * config.num_kv_heads;
    chunks_.push_back(fc);
  }
  // Split decode contexts so that about two waves of CTAs stream the KV cache.
  const int64_t target_items =
      std::max<int64_t>(1, int64_t{config.num_sms} * config.decode_ctas_per_sm * 2);
  int split_keys = 0;
  if (config.min_split_keys > 0)
    split_keys = static_cast<int>(std::max<int64_t>(
        config.min_split_keys,
        CeilDiv(CeilDiv(decode_work, target_items), kFlashKeyTile) * kFlashKeyTile));
  const int prefill_rows = FlashPrefillRows(config.head_dim);
  for (int ci = 0; ci < static_cast<int>(chunks_.size()); ++ci) {
    const FlashChunk& fc = chunks_[ci];
    const int rows = fc.q_len * group;
    if (rows == 0) continue;
    if (rows <= kFlashDecodeRows) {
      PlanDecodeChunk(ci, config, split_keys);
      continue;
    }
    for (int kv_head = 0; kv_head < config.num_kv_heads; ++kv_head)
      for (int r = 0; r < rows; r += prefill_rows) {
        const int first_pos = fc.num_computed + r / group;
        const int last_pos = fc.num_computed + (std::min(r + prefill_rows, rows) - 1) / group;
        FlashWorkItem item;
        item.chunk = ci;
        item.kv_head = kv_head;
        item.row_begin = r;
        item.key_begin = WindowBegin(fc, first_pos);
        item.key_end = last_pos + 1;
        item.sink_end = SinksEnd(fc, last_pos);
        prefill_items_.push_back(item);
      }
  }
  // Longest tiles first: the causal tail of the grid is then made of short tiles.
  std::stable_sort(prefill_items_.begin(), prefill_items_.end(),
                   [](const FlashWorkItem& a, const FlashWorkItem& b) {
                     return a.key_end - a.key_begin + a.sink_end >
                            b.key_end - b.key_begin + b.sink_end;
                   });

  using A = PlanUpload;
  RETURN_IF_ERROR(upload_.Upload({A::Of(chunks_), A::Of(block_tables_), A::Of(prefill_items_),
                                  A::Of(decode_items_), A::Of(merges_), A::Of(positions_),
                                  A::Of(slots_), A::Of(exact_rope_), A::Of(sink_positions_)},
                                 stream));
  chunks_dev_ = upload_.at<FlashChunk>(0);
  block_tables_dev_ = upload_.at<int32_t>(1);
  prefill_dev_ = upload_.at<FlashWorkItem>(2);
  decode_dev_ = upload_.at<FlashWorkItem>(3);
  merges_dev_ = upload_.at<FlashMergeItem>(4);
  positions_dev_ = upload_.at<int32_t>(5);
  slots_dev_ = upload_.at<int64_t>(6);
  exact_rope_dev_ = upload_.at<int32_t>(7);
  sink_positions_dev_ = upload_.at<int32_t>(8);
  if (num_partials_ > 0) {
    RETURN_IF_ERROR(
        partial_o_.Reserve(sizeof(float) * num_partials_ * kFlashDecodeRows * config.head_dim));
    RETURN_IF_ERROR(partial_lse_.Reserve(sizeof(float) * num_partials_ * kFlashDecodeRows));
  }
  if (!merges_.empty()) {
    // Counters start at zero and every launch leaves them at zero; a new buffer is cleared.
    const size_t before = merge_counters_.size_bytes();
    RETURN_IF_ERROR(merge_counters_.Reserve(sizeof(int32_t) * merges_.size()));
    if (merge_counters_.size_bytes() != before)
      RETURN_IF_CUDA_ERROR(
          cudaMemsetAsync(merge_counters_.data(), 0, merge_counters_.size_bytes(), stream));
  }
  ++builds_;
  return absl::OkStatus();
}

void FlashPlan::PlanDecodeChunk(int chunk_index, const FlashPlanConfig& config, int split_keys) {
  const FlashChunk& fc = chunks_[chunk_index];
  const int kv_len = fc.num_computed + fc.q_len;
  // The window span [first_key, kv_len) is split; the sinks ride with the first split.
  const int first_key = WindowBegin(fc, fc.num_computed);
  const int sink_end = SinksEnd(fc, kv_len - 1);
  const int span = kv_len - first_key;
  // Rounded, not ceiled: a context just over k * split_keys gets k slightly longer splits rather
  // than k + 1 shorter ones, which would leave the last wave of CTAs mostly empty.
  const int num_splits =
      split_keys > 0 ? std::max(1, (span + split_keys / 2) / split_keys) : 1;
  const int split_len =
      static_cast<int>(CeilDiv(CeilDiv(span, num_splits), kFlashKeyTile) * kFlashKeyTile);
  for (int kv_head = 0; kv_head < config.num_kv_heads; ++kv_head) {
    const int first_partial = num_partials_;
    const int merge = num_splits > 1 ? static_cast<int>(merges_.size()) : -1;
    int splits = 0;
    for (int begin = first_key; begin < kv_len; begin += split_len, ++splits) {
      FlashWorkItem item;
      item.chunk = chunk_index;
      item.kv_head = kv_head;
      item.row_begin = 0;
      item.key_begin = begin;
      item.key_end = std::min(kv_len, begin + split_len);
      item.sink_end = begin == first_key ? sink_end : 0;
      item.partial = num_splits > 1 ? num_partials_++ : -1;
      item.merge = merge;
      decode_items_.push_back(item);
    }
    if (num_splits > 1) merges_.push_back({chunk_index, kv_head, first_partial, splits});
  }
}

FlashParams FlashPlan::BaseParams() const {
  FlashParams p;
  p.chunks = chunks_dev_;
  p.block_tables = block_tables_dev_;
  p.num_heads = config_.num_heads;
  p.num_kv_heads = config_.num_kv_heads;
  p.head_dim = config_.head_dim;
  p.block_size = config_.block_size;
  p.num_blocks = config_.num_blocks;
  p.partial_o = partial_o_.as<float>();
  p.partial_lse = partial_lse_.as<float>();
  return p;
}

FlashParams FlashPlan::PrefillParams() const {
  FlashParams p = BaseParams();
  p.items = prefill_dev_;
  p.num_items = num_prefill_items();
  return p;
}

FlashParams FlashPlan::DecodeParams() const {
  FlashParams p = BaseParams();
  p.items = decode_dev_;
  p.num_items = num_decode_items();
  p.merges = merges_dev_;
  p.num_merges = static_cast<int>(merges_.size());
  p.merge_counters = merge_counters_.as<int32_t>();
  return p;
}

}  // namespace junction::cuda
