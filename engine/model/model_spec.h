// ModelSpec: what a checkpoint's config.json describes, in one shape for every architecture.
// A model is a list of layers; each layer has an optional mixer and an optional MLP, each behind
// its own pre-norm (Llama-style layers have both; NemotronH blocks have one of the two).
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "engine/common/ids.h"

namespace junction {

enum class MixerKind { kAttention, kSlidingWindow, kPath, kMamba2, kGatedDeltaNet };
const char* MixerKindName(MixerKind kind);

enum class RopeType { kNone, kDefault, kLlama3, kYarn };

struct RopeSpec {
  RopeType type = RopeType::kNone;
  double theta = 10000.0;
  int rotary_dim = 0;  // leading dims of each head that rotate (partial RoPE); 0 = none
  // llama3 and yarn scaling.
  double factor = 1.0;
  int original_max_positions = 0;
  double low_freq_factor = 1.0;   // llama3
  double high_freq_factor = 4.0;  // llama3
  double beta_fast = 32.0;        // yarn
  double beta_slow = 1.0;         // yarn
  double attention_factor = 1.0;  // yarn: scales cos/sin (HF's mscale)
  bool truncate = true;           // yarn: floor/ceil the correction range (HF default)
};

// Softmax attention, full or restricted to a window (+ global sink tokens).
struct AttentionSpec {
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  float scale = 0.0f;  // softmax scale, usually 1/sqrt(head_dim)
  bool qkv_bias = false;
  bool o_bias = false;
  bool qk_norm = false;      // per-head RMSNorm on q and k before RoPE (Qwen3, Qwen3.5)
  bool output_gate = false;  // q_proj also emits a sigmoid gate on the output (Qwen3.5)
  RopeSpec rope;
  int sliding_window = 0;  // > 0: the model was trained with this window (HF: token + W-1 earlier)
};

// Mamba2 / SSD (DESIGN.md §4).
struct Mamba2Spec {
  int num_heads = 0;
  int head_dim = 0;
  int state_size = 0;  // N
  int num_groups = 1;  // G
  int conv_kernel = 4;
  int inner_size = 0;  // I = num_heads * head_dim
  bool conv_bias = true;
  bool proj_bias = false;
  bool norm_per_group = false;  // gated RMSNorm per group of I/G (NemotronH) or over all of I
  float norm_eps = 1e-5f;
  float dt_min = 0.0f;  // time_step_limit
  float dt_max = 0.0f;  // +inf when unlimited
  int chunk_size = 64;
};

// Gated DeltaNet (DESIGN.md §4).
struct GatedDeltaNetSpec {
  int num_key_heads = 0;
  int num_value_heads = 0;
  int head_k_dim = 0;
  int head_v_dim = 0;
  int conv_kernel = 4;
  bool output_gate = true;
  bool norm_plus_one = false;  // output norm applied as (1 + w)
  float norm_eps = 1e-6f;
  bool short_conv = true;   // causal conv + SiLU on q, k, v; false: SiLU only (fla use_short_conv)
  float beta_scale = 1.0f;  // beta = beta_scale * sigmoid(b_proj x) (2 with fla allow_neg_eigval)
  // Weight names: Qwen3.5 (in_proj_qkv / conv1d over [q|k|v], in_proj_z, in_proj_a, in_proj_b,
  // norm, out_proj) or fla (q/k/v_proj, q/k/v_conv1d, g_proj, a_proj, b_proj, o_norm, o_proj).
  bool fused_qkv = false;
  int chunk_size = 64;  // prefill chunk of the WY/UT form
};

// PaTH attention (fla path_attn; DESIGN.md §4).
struct PathSpec {
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  bool forget_gate = false;
  bool low_rank_w = true;
  bool w_shortconv = true;
  int w_rank = 32;
  int conv_kernel = 3;
  float scale = 0.0f;
};

struct MixerSpec {
  MixerKind kind = MixerKind::kAttention;
  std::variant<AttentionSpec, Mamba2Spec, GatedDeltaNetSpec, PathSpec> params;
  std::string weight_prefix;  // e.g. "model.layers.3.self_attn."
};

enum class MlpKind { kSwiGlu, kRelu2 };

struct MlpSpec {
  MlpKind kind = MlpKind::kSwiGlu;
  int intermediate_size = 0;
  // Full weight names. SwiGLU: down(silu(gate x) * up x); gate and up may be one fused matrix
  // ([2*intermediate, hidden], gate rows first) named by fused_gate_up. Relu2: down(relu(up x)^2).
  std::string gate;
  std::string up;
  std::string fused_gate_up;
  std::string down;
};

struct LayerSpec {
  std::optional<MixerSpec> mixer;
  std::string mixer_norm;  // weight name of the RMSNorm before the mixer
  std::optional<MlpSpec> mlp;
  std::string mlp_norm;  // weight name of the RMSNorm before the MLP
};

struct ModelSpec {
  std::string architecture;
  int vocab_size = 0;
  int hidden_size = 0;
  int max_context = 0;  // max_position_embeddings
  float norm_eps = 1e-6f;
  bool norm_plus_one = false;  // norms store w and apply (1 + w) (Gemma, Qwen3.5)
  float embedding_multiplier = 1.0f;
  float residual_multiplier = 1.0f;
  float logits_divisor = 1.0f;  // Granite's logits_scaling
  std::string embedding;        // weight names
  std::string final_norm;
  std::string lm_head;  // equals `embedding` when tied
  std::vector<LayerSpec> layers;
  std::vector<TokenId> eos_token_ids;
  std::optional<TokenId> bos_token_id;

  // Counts used to size memory: layers whose mixer keeps a KV cache / a recurrent state.
  int NumLayersWithKvCache() const;
  int NumLayersWithState() const;
};

}  // namespace junction
