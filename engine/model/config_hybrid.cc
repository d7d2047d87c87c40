// Hybrid Mamba2 + attention families (dense variants only; mixture-of-experts is refused):
//  - GraniteMoeHybridForCausalLM with num_local_experts = 0: every layer is a Mamba2 or NoPE
//    attention mixer plus a shared SwiGLU MLP (fused input_linear), with Granite's embedding /
//    residual / attention multipliers and logits scaling. Gated norm over all of I.
//  - NemotronHForCausalLM: each block is one of Mamba2 (M), NoPE attention (*) or a relu^2
//    MLP (-), behind one RMSNorm. Gated norm per group of I/G.
#include <cmath>

#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "engine/model/config_mamba2.h"
#include "engine/model/config_reader.h"
#include "engine/model/model_config.h"

namespace junction {
namespace {

enum class BlockType { kMamba, kAttention, kMlp, kMoe, kUnknown };

// Accepts every spelling seen in configs: layer_types ("mamba", "attention"), transformers 5
// ("linear_attention", "full_attention"), NemotronH's pattern letters (M, *, -, E).
BlockType ParseBlockType(const std::string& s) {
  if (s == "mamba" || s == "linear_attention" || s == "M") return BlockType::kMamba;
  if (s == "attention" || s == "full_attention" || s == "*") return BlockType::kAttention;
  if (s == "mlp" || s == "-") return BlockType::kMlp;
  if (s == "moe" || s == "E") return BlockType::kMoe;
  return BlockType::kUnknown;
}

// The per-layer block types from the first of `keys` present (a list of names, or a pattern
// string for "hybrid_override_pattern"), checked against `num_layers` when that is positive.
std::vector<BlockType> BlockTypes(ConfigReader& c, const std::vector<std::string>& keys,
                                  int num_layers) {
  std::vector<std::string> names;
  std::string key;
  for (const std::string& k : keys) {
    if (!c.Has(k)) continue;
    key = k;
    if (const nlohmann::json* v = c.Find(k); v->is_string()) {
      for (char ch : v->get<std::string>()) names.push_back(std::string(1, ch));
    } else {
      names = c.StringList(k);
    }
    break;
  }
  std::vector<BlockType> types;
  if (key.empty()) {
    c.Error(absl::StrCat("the config lists no layer types ('", keys.front(), "')"));
    return types;
  }
  for (size_t i = 0; i < names.size(); ++i) {
    types.push_back(ParseBlockType(names[i]));
    if (types.back() == BlockType::kUnknown)
      c.Error(absl::StrCat("'", key, "'[", i, "] = '", names[i], "' is not a known layer type"));
    if (types.back() == BlockType::kMoe)
      c.Error(absl::StrCat("'", key, "'[", i,
                           "] is a mixture-of-experts layer: not supported yet (dense only)"));
  }
  if (num_layers > 0 && static_cast<int>(types.size()) != num_layers)
    c.Error(absl::StrCat("'", key, "' has ", types.size(), " entries for ", num_layers, " layers"));
  return types;
}

AttentionSpec NoPeAttention(ConfigReader& c, int hidden, const std::string& head_dim_key) {
  AttentionSpec a;
  a.num_heads = c.Int("num_attention_heads");
  a.num_kv_heads = c.Int("num_key_value_heads", a.num_heads);
  a.head_dim = c.Int(head_dim_key, a.num_heads > 0 ? hidden / a.num_heads : 0);
  a.scale = a.head_dim > 0 ? 1.0f / std::sqrt(static_cast<float>(a.head_dim)) : 0.0f;
  a.qkv_bias = a.o_bias = c.Bool("attention_bias", false);
  if (a.num_heads <= 0 || a.num_kv_heads <= 0 || a.num_heads % a.num_kv_heads != 0)
    c.Error("num_attention_heads must be a positive multiple of num_key_value_heads");
  return a;
}

MixerSpec Mixer(MixerKind kind, const AttentionSpec& a, const Mamba2Spec& m,
                const std::string& prefix) {
  MixerSpec mixer;
  mixer.kind = kind;
  if (kind == MixerKind::kMamba2) {
    mixer.params = m;
  } else {
    mixer.params = a;
  }
  mixer.weight_prefix = prefix;
  return mixer;
}

void CheckMamba(ConfigReader& c, const Mamba2Spec& m) {
  if (m.num_groups <= 0 || m.num_heads <= 0 || m.num_heads % m.num_groups != 0)
    c.Error("the Mamba head count must be a positive multiple of the group count");
}

}  // namespace

absl::StatusOr<ModelSpec> ParseGraniteHybrid(const std::string& arch, ConfigReader& c) {
  ModelSpec spec;
  spec.hidden_size = c.Int("hidden_size");
  spec.vocab_size = c.Int("vocab_size");
  spec.max_context = c.Int("max_position_embeddings", 4096);
  spec.norm_eps = static_cast<float>(c.Double("rms_norm_eps", 1e-6));
  spec.embedding_multiplier = static_cast<float>(c.Double("embedding_multiplier", 1.0));
  spec.residual_multiplier = static_cast<float>(c.Double("residual_multiplier", 1.0));
  spec.logits_divisor = static_cast<float>(c.Double("logits_scaling", 1.0));
  const int num_layers = c.Int("num_hidden_layers");
  c.SpecialTokens(spec);
  if (const int experts = c.Int("num_local_experts", 0); experts > 0)
    c.Error(absl::StrCat("num_local_experts = ", experts,
                         ": mixture-of-experts GraniteMoeHybrid is not supported yet (dense "
                         "models with num_local_experts = 0 only)"));
  if (c.String("hidden_act", "silu") != "silu") c.Error("hidden_act must be 'silu'");
  const bool tied = c.Bool("tie_word_embeddings", false);

  AttentionSpec attn = NoPeAttention(c, spec.hidden_size, "head_dim");
  attn.scale = static_cast<float>(c.Double("attention_multiplier", attn.scale));
  const std::string position = c.String("position_embedding_type", "rope");
  if (position == "rope") {
    attn.rope = c.Rope(attn.head_dim);
  } else if (position != "nope") {
    c.Error(absl::StrCat("position_embedding_type '", position, "' (supported: rope, nope)"));
  }

  Mamba2Spec m;
  m.num_heads = c.Int("mamba_n_heads", 128);
  m.inner_size = c.Size("mamba_expand", c.Double("mamba_expand", 2.0) * spec.hidden_size);
  const nlohmann::json* d_head = c.Find("mamba_d_head");
  m.head_dim = d_head && d_head->is_string() && d_head->get<std::string>() == "auto"
                   ? (m.num_heads > 0 ? m.inner_size / m.num_heads : 0)
                   : c.Int("mamba_d_head", m.num_heads > 0 ? m.inner_size / m.num_heads : 0);
  m.state_size = c.Int("mamba_d_state", 256);
  m.num_groups = c.Int("mamba_n_groups", 1);
  m.conv_kernel = c.Int("mamba_d_conv", 4);
  m.chunk_size = c.Int("mamba_chunk_size", 256);
  m.conv_bias = c.Bool("mamba_conv_bias", true);
  m.proj_bias = c.Bool("mamba_proj_bias", false);
  m.norm_per_group = false;
  m.norm_eps = spec.norm_eps;
  ReadTimeStepLimit(c, m);
  CheckMamba(c, m);
  if (m.num_heads * m.head_dim != m.inner_size)
    c.Error("mamba_n_heads * mamba_d_head must equal mamba_expand * hidden_size");
  const int intermediate = c.Int("shared_intermediate_size");
  const std::vector<BlockType> types =
      BlockTypes(c, {"layer_types", "layers_block_type"}, num_layers);
  for (BlockType t : types)
    if (t == BlockType::kMlp) c.Error("GraniteMoeHybrid layers are 'mamba' or 'attention'");
  RETURN_IF_ERROR(c.Finish(arch));
  if (num_layers <= 0) return absl::InvalidArgumentError("num_hidden_layers must be positive");

  spec.embedding = "model.embed_tokens.weight";
  spec.final_norm = "model.norm.weight";
  spec.lm_head = tied ? spec.embedding : "lm_head.weight";
  for (int i = 0; i < num_layers; ++i) {
    const std::string p = absl::StrCat("model.layers.", i, ".");
    LayerSpec layer;
    if (types[i] == BlockType::kMamba) {
      layer.mixer = Mixer(MixerKind::kMamba2, attn, m, p + "mamba.");
    } else {
      layer.mixer = Mixer(MixerKind::kAttention, attn, m, p + "self_attn.");
    }
    layer.mixer_norm = p + "input_layernorm.weight";
    MlpSpec mlp;
    mlp.kind = MlpKind::kSwiGlu;
    mlp.intermediate_size = intermediate;
    mlp.fused_gate_up = p + "shared_mlp.input_linear.weight";
    mlp.down = p + "shared_mlp.output_linear.weight";
    layer.mlp = mlp;
    layer.mlp_norm = p + "post_attention_layernorm.weight";
    spec.layers.push_back(std::move(layer));
  }
  return spec;
}

absl::StatusOr<ModelSpec> ParseNemotronH(const std::string& arch, ConfigReader& c) {
  ModelSpec spec;
  spec.hidden_size = c.Int("hidden_size");
  spec.vocab_size = c.Int("vocab_size");
  spec.max_context = c.Int("max_position_embeddings", 4096);
  spec.norm_eps = static_cast<float>(c.Double("layer_norm_epsilon", 1e-5));
  c.SpecialTokens(spec);
  const bool tied = c.Bool("tie_word_embeddings", false);
  if (c.String("mlp_hidden_act", "relu2") != "relu2") c.Error("mlp_hidden_act must be 'relu2'");
  if (c.String("mamba_hidden_act", "silu") != "silu") c.Error("mamba_hidden_act must be 'silu'");
  if (c.Bool("mlp_bias", false)) c.Error("mlp_bias = true is not supported");

  const std::string head_dim_key = c.Has("head_dim") ? "head_dim" : "attention_head_dim";
  const AttentionSpec attn = NoPeAttention(c, spec.hidden_size, head_dim_key);
  Mamba2Spec m;
  m.num_heads = c.Int("mamba_num_heads");
  m.head_dim = c.Int("mamba_head_dim");
  m.inner_size = m.num_heads * m.head_dim;
  m.state_size = c.Int("ssm_state_size");
  m.num_groups = c.Int("n_groups", 1);
  m.conv_kernel = c.Int("conv_kernel", 4);
  m.chunk_size = c.Int("chunk_size", 256);
  m.conv_bias = c.Bool("use_conv_bias", true);
  m.proj_bias = c.Bool("mamba_proj_bias", c.Bool("use_bias", false));
  m.norm_per_group = true;  // NemotronH normalizes each group of I/G separately
  m.norm_eps = spec.norm_eps;
  ReadTimeStepLimit(c, m);
  CheckMamba(c, m);
  const int intermediate = c.Int("intermediate_size");
  const int num_layers = c.Int("num_hidden_layers", 0);
  const std::vector<BlockType> types =
      BlockTypes(c, {"layers_block_type", "hybrid_override_pattern", "layer_types"}, num_layers);
  RETURN_IF_ERROR(c.Finish(arch));
  if (types.empty()) return absl::InvalidArgumentError("the model has no layers");

  spec.embedding = "backbone.embeddings.weight";
  spec.final_norm = "backbone.norm_f.weight";
  spec.lm_head = tied ? spec.embedding : "lm_head.weight";
  for (size_t i = 0; i < types.size(); ++i) {
    const std::string p = absl::StrCat("backbone.layers.", i, ".");
    LayerSpec layer;
    if (types[i] == BlockType::kMlp) {
      MlpSpec mlp;
      mlp.kind = MlpKind::kRelu2;
      mlp.intermediate_size = intermediate;
      mlp.up = p + "mixer.up_proj.weight";
      mlp.down = p + "mixer.down_proj.weight";
      layer.mlp = mlp;
      layer.mlp_norm = p + "norm.weight";
    } else {
      const MixerKind kind =
          types[i] == BlockType::kMamba ? MixerKind::kMamba2 : MixerKind::kAttention;
      layer.mixer = Mixer(kind, attn, m, p + "mixer.");
      layer.mixer_norm = p + "norm.weight";
    }
    spec.layers.push_back(std::move(layer));
  }
  return spec;
}

}  // namespace junction
