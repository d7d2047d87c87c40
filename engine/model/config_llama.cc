// Llama-family configs: LlamaForCausalLM, Qwen2ForCausalLM (q/k/v bias), Qwen3ForCausalLM
// (per-head q/k RMSNorm, optional sliding layers), MistralForCausalLM (sliding window).
#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "engine/model/config_reader.h"
#include "engine/model/model_config.h"

namespace junction {
namespace {

// Which layers slide, and by how much (0 = full attention), following each family's rules.
std::vector<int> SlidingWindows(const std::string& arch, ConfigReader& c, int num_layers) {
  std::vector<int> windows(num_layers, 0);
  if (arch == "MistralForCausalLM") {
    // Absent means Mistral's default of 4096; an explicit null means no window.
    const int window = c.Has("sliding_window")        ? c.Int("sliding_window")
                       : c.Contains("sliding_window") ? 0
                                                      : 4096;
    for (int& v : windows) v = window;
    return windows;
  }
  // Qwen: HF sets sliding_window = None unless use_sliding_window, whatever layer_types says.
  const bool is_qwen = arch == "Qwen3ForCausalLM" || arch == "Qwen2ForCausalLM";
  const bool qwen_slides = is_qwen && c.Bool("use_sliding_window", false);
  std::vector<std::string> types = c.StringList("layer_types");
  if (!types.empty()) {
    if (static_cast<int>(types.size()) != num_layers) {
      c.Error("'layer_types' must have one entry per layer");
      return windows;
    }
    for (int i = 0; i < num_layers; ++i) {
      if (types[i] == "sliding_attention") {
        if (!is_qwen || qwen_slides) windows[i] = c.Int("sliding_window");
      } else if (types[i] != "full_attention") {
        c.Error(absl::StrCat("layer_types[", i, "] = '", types[i],
                             "' is not supported here (full_attention, sliding_attention)"));
      }
    }
    return windows;
  }
  if (qwen_slides) {
    const int first = c.Int("max_window_layers", num_layers);
    for (int i = std::max(first, 0); i < num_layers; ++i) windows[i] = c.Int("sliding_window");
  }
  return windows;
}

}  // namespace

absl::StatusOr<ModelSpec> ParseLlamaFamily(const std::string& arch, ConfigReader& c) {
  ModelSpec spec;
  spec.hidden_size = c.Int("hidden_size");
  spec.vocab_size = c.Int("vocab_size");
  spec.max_context = c.Int("max_position_embeddings", 4096);
  spec.norm_eps = static_cast<float>(c.Double("rms_norm_eps", 1e-6));
  const int num_layers = c.Int("num_hidden_layers");
  const int num_heads = c.Int("num_attention_heads");
  const int num_kv_heads = c.Int("num_key_value_heads", num_heads);
  const int head_dim = c.Int("head_dim", num_heads > 0 ? spec.hidden_size / num_heads : 0);
  const int intermediate = c.Int("intermediate_size");
  if (num_heads <= 0 || num_kv_heads <= 0 || num_heads % num_kv_heads != 0)
    c.Error("num_attention_heads must be a positive multiple of num_key_value_heads");
  if (c.Has("hidden_act") && c.String("hidden_act", "silu") != "silu")
    c.Error("hidden_act must be 'silu'");
  if (c.Bool("mlp_bias", false)) c.Error("mlp_bias = true is not supported");
  const bool tied = c.Bool("tie_word_embeddings", false);
  c.SpecialTokens(spec);

  AttentionSpec attn;
  attn.num_heads = num_heads;
  attn.num_kv_heads = num_kv_heads;
  attn.head_dim = head_dim;
  attn.scale = head_dim > 0 ? 1.0f / std::sqrt(static_cast<float>(head_dim)) : 0.0f;
  attn.rope = c.Rope(head_dim);
  if (arch == "Qwen2ForCausalLM") {
    attn.qkv_bias = true;
  } else {
    attn.qkv_bias = attn.o_bias = c.Bool("attention_bias", false);
  }
  attn.qk_norm = arch == "Qwen3ForCausalLM";

  const std::vector<int> windows = SlidingWindows(arch, c, std::max(num_layers, 0));
  RETURN_IF_ERROR(c.Finish(arch));
  if (num_layers <= 0) return absl::InvalidArgumentError("num_hidden_layers must be positive");

  spec.embedding = "model.embed_tokens.weight";
  spec.final_norm = "model.norm.weight";
  spec.lm_head = tied ? spec.embedding : "lm_head.weight";
  for (int i = 0; i < num_layers; ++i) {
    const std::string p = absl::StrCat("model.layers.", i, ".");
    LayerSpec layer;
    MixerSpec mixer;
    AttentionSpec layer_attn = attn;
    layer_attn.sliding_window = windows[i];
    mixer.kind = windows[i] > 0 ? MixerKind::kSlidingWindow : MixerKind::kAttention;
    mixer.params = layer_attn;
    mixer.weight_prefix = p + "self_attn.";
    layer.mixer = mixer;
    layer.mixer_norm = p + "input_layernorm.weight";
    layer.mlp = SwiGluMlp(p + "mlp.", intermediate);
    layer.mlp_norm = p + "post_attention_layernorm.weight";
    spec.layers.push_back(std::move(layer));
  }
  return spec;
}

}  // namespace junction
