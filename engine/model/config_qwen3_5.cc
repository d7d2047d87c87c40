// Qwen3_5ForCausalLM (text): Gated DeltaNet layers ("linear_attention") interleaved with gated
// full attention ("full_attention": q_proj emits the query and a sigmoid output gate per head,
// q/k RMSNorm, partial RoPE). Every norm stores w and applies (1 + w), except the gated output
// norm of the linear layers, which applies w (transformers' Qwen3_5RMSNormGated).
#include <cmath>

#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "engine/model/config_reader.h"
#include "engine/model/model_config.h"

namespace junction {
namespace {

// "linear_attention" / "full_attention" per layer, from `layer_types` or, when absent, every
// `full_attention_interval`-th layer being full attention (Qwen3-Next's default of 4).
std::vector<bool> FullAttentionLayers(ConfigReader& c, int num_layers) {
  std::vector<bool> full(num_layers, false);
  const std::vector<std::string> types = c.StringList("layer_types");
  if (types.empty()) {
    const int interval = c.Int("full_attention_interval", 4);
    if (interval <= 0) c.Error("'full_attention_interval' must be positive");
    for (int i = 0; i < num_layers && interval > 0; ++i) full[i] = (i + 1) % interval == 0;
    return full;
  }
  if (static_cast<int>(types.size()) != num_layers) {
    c.Error("'layer_types' must have one entry per layer");
    return full;
  }
  for (int i = 0; i < num_layers; ++i) {
    if (types[i] == "full_attention") {
      full[i] = true;
    } else if (types[i] != "linear_attention") {
      c.Error(absl::StrCat("layer_types[", i, "] = '", types[i],
                           "' is not supported (linear_attention, full_attention)"));
    }
  }
  return full;
}

}  // namespace

absl::StatusOr<ModelSpec> ParseQwen3_5(const std::string& arch, ConfigReader& c) {
  ModelSpec spec;
  spec.hidden_size = c.Int("hidden_size");
  spec.vocab_size = c.Int("vocab_size");
  spec.max_context = c.Int("max_position_embeddings", 4096);
  spec.norm_eps = static_cast<float>(c.Double("rms_norm_eps", 1e-6));
  spec.norm_plus_one = true;
  const int num_layers = c.Int("num_hidden_layers");
  const int intermediate = c.Int("intermediate_size");
  if (c.Has("hidden_act") && c.String("hidden_act", "silu") != "silu")
    c.Error("hidden_act must be 'silu'");
  if (c.Int("num_experts", 0) > 0) c.Error("mixture-of-experts Qwen3.5 is not supported");
  const bool tied = c.Bool("tie_word_embeddings", false);
  c.SpecialTokens(spec);

  AttentionSpec attn;
  attn.num_heads = c.Int("num_attention_heads");
  attn.num_kv_heads = c.Int("num_key_value_heads", attn.num_heads);
  attn.head_dim = c.Int("head_dim", attn.num_heads > 0 ? spec.hidden_size / attn.num_heads : 0);
  attn.scale = attn.head_dim > 0 ? 1.0f / std::sqrt(static_cast<float>(attn.head_dim)) : 0.0f;
  attn.qkv_bias = attn.o_bias = c.Bool("attention_bias", false);
  attn.qk_norm = true;
  attn.output_gate = true;
  attn.rope = c.Rope(attn.head_dim);
  if (attn.num_heads <= 0 || attn.num_kv_heads <= 0 || attn.num_heads % attn.num_kv_heads != 0)
    c.Error("num_attention_heads must be a positive multiple of num_key_value_heads");

  GatedDeltaNetSpec gdn;
  gdn.num_key_heads = c.Int("linear_num_key_heads");
  gdn.num_value_heads = c.Int("linear_num_value_heads");
  gdn.head_k_dim = c.Int("linear_key_head_dim");
  gdn.head_v_dim = c.Int("linear_value_head_dim");
  gdn.conv_kernel = c.Int("linear_conv_kernel_dim", 4);
  gdn.norm_eps = spec.norm_eps;
  gdn.norm_plus_one = false;
  gdn.fused_qkv = true;
  if (gdn.num_key_heads <= 0 || gdn.num_value_heads <= 0 ||
      gdn.num_value_heads % gdn.num_key_heads != 0)
    c.Error("linear_num_value_heads must be a positive multiple of linear_num_key_heads");
  if (gdn.conv_kernel < 1) c.Error("linear_conv_kernel_dim must be positive");

  const std::vector<bool> full = FullAttentionLayers(c, std::max(num_layers, 0));
  RETURN_IF_ERROR(c.Finish(arch));
  if (num_layers <= 0) return absl::InvalidArgumentError("num_hidden_layers must be positive");

  spec.embedding = "model.embed_tokens.weight";
  spec.final_norm = "model.norm.weight";
  spec.lm_head = tied ? spec.embedding : "lm_head.weight";
  for (int i = 0; i < num_layers; ++i) {
    const std::string p = absl::StrCat("model.layers.", i, ".");
    LayerSpec layer;
    MixerSpec mixer;
    if (full[i]) {
      mixer.kind = MixerKind::kAttention;
      mixer.params = attn;
      mixer.weight_prefix = p + "self_attn.";
    } else {
      mixer.kind = MixerKind::kGatedDeltaNet;
      mixer.params = gdn;
      mixer.weight_prefix = p + "linear_attn.";
    }
    layer.mixer = mixer;
    layer.mixer_norm = p + "input_layernorm.weight";
    layer.mlp = SwiGluMlp(p + "mlp.", intermediate);
    layer.mlp_norm = p + "post_attention_layernorm.weight";
    spec.layers.push_back(std::move(layer));
  }
  return spec;
}

}  // namespace junction
