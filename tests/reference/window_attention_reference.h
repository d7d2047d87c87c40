// Float64 references for sliding-window + global ("sink") softmax attention (DESIGN.md §4),
// written for clarity, not speed: the visible keys of each query are listed explicitly, each is
// given a position, and q / k are rotated at those positions before an exact softmax.
#pragma once

#include <vector>

#include "engine/common/ids.h"
#include "engine/model/model_spec.h"
#include "engine/model/weight_store.h"

namespace junction::reference {

struct WindowAttentionProblem {
  int num_tokens = 0;
  int num_heads = 0;
  int num_kv_heads = 0;  // query head h reads kv head h / (num_heads / num_kv_heads)
  int head_dim = 0;
  std::vector<double> q;         // [num_tokens, num_heads, head_dim], before RoPE
  std::vector<double> k;         // [num_tokens, num_kv_heads, head_dim], before RoPE
  std::vector<double> v;         // [num_tokens, num_kv_heads, head_dim]
  std::vector<double> inv_freq;  // [rotary_dim / 2] (HF rotate_half pairs); empty: no RoPE
  int rotary_dim = 0;
  double rope_scaling = 1.0;  // multiplies cos and sin
  double scale = 0.0;
  // Query i sees keys j <= i with j > i - window (window = 0: all) or j < num_sinks.
  int window = 0;
  int num_sinks = 0;
  // false: every token sits at its index in the text (models trained with a window).
  // true: positions follow the cache (StreamingLLM): the visible keys of query i, in order, sit
  // at positions 0, 1, 2, ... and the query at the last one.
  bool cache_positions = false;
};

// Attention outputs [num_tokens, num_heads, head_dim].
std::vector<double> WindowAttentionReference(const WindowAttentionProblem& problem);

// Keys (text indices) a query at index i sees, ascending.
std::vector<int> VisibleKeys(int i, int window, int num_sinks);

// One attention mixer of a Llama-style layer (no biases, no q/k norm) in float64: x [num_tokens,
// hidden] -> q/k/v projections -> WindowAttentionReference -> o_proj; returns [num_tokens,
// hidden]. Weights `<prefix>{q,k,v,o}_proj.weight` from `weights`; inv_freq as the backend
// computes it (float32 values).
std::vector<double> AttentionLayerReference(const AttentionSpec& spec, int hidden,
                                            const WeightStore& weights, const std::string& prefix,
                                            const std::vector<double>& x, int num_tokens,
                                            int window, int num_sinks, bool cache_positions);

// A whole Llama-family model (embedding, RMSNorm, attention as above, SwiGLU MLP, final norm,
// LM head) in float64 over `tokens`, every attention layer with (window, num_sinks,
// cache_positions). Returns the logits of each row in `rows` ([rows.size()][vocab]).
std::vector<std::vector<double>> LlamaLogitsReference(
    const ModelSpec& spec, const WeightStore& weights, const std::vector<TokenId>& tokens,
    int window, int num_sinks, bool cache_positions, const std::vector<int>& rows);

}  // namespace junction::reference
