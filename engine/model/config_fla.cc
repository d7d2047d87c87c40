// flash-linear-attention (fla) checkpoints: GatedDeltaNetForCausalLM (`gated_deltanet`) and
// PaTHAttentionForCausalLM (`path_attn`). Both use fla's block layout: `model.embeddings`,
// `model.layers.{i}.{attn_norm, attn, mlp_norm, mlp}`, `model.norm`, `lm_head`, and fla's
// GatedMLP (SwiGLU) whose size defaults to 256 * ceil(int(hidden * hidden_ratio * 2/3) / 256).
// Absent keys take fla's config defaults.
#include <cmath>

#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "engine/model/config_reader.h"
#include "engine/model/model_config.h"

namespace junction {
namespace {

// What both fla families share: sizes, norms, special tokens, the MLP.
struct FlaCommon {
  int num_layers = 0;
  int intermediate = 0;
  bool tied = false;
};

FlaCommon ReadCommon(ConfigReader& c, ModelSpec& spec, int default_layers) {
  FlaCommon common;
  spec.hidden_size = c.Int("hidden_size", 2048);
  spec.vocab_size = c.Int("vocab_size", 32000);
  spec.max_context = c.Int("max_position_embeddings", 2048);
  spec.norm_eps = static_cast<float>(c.Double("norm_eps", 1e-6));
  common.num_layers = c.Int("num_hidden_layers", default_layers);
  const std::string act = c.String("hidden_act", "swish");
  if (act != "swish" && act != "silu") c.Error("hidden_act must be 'swish'");
  if (c.Has("intermediate_size")) {
    common.intermediate = c.Int("intermediate_size");
  } else {
    // fla's default: hidden * ratio * 2/3, rounded up to a multiple of 256.
    const double ratio = c.Double("hidden_ratio", 4.0);
    const int size = c.Size("hidden_ratio", spec.hidden_size * ratio * 2.0 / 3.0);
    if (size < 1) c.Error("hidden_ratio must be positive");
    common.intermediate = 256 * ((size + 255) / 256);
  }
  if (!c.Bool("elementwise_affine", true)) c.Error("elementwise_affine = false is not supported");
  common.tied = c.Bool("tie_word_embeddings", false);
  c.SpecialTokens(spec);
  return common;
}

// The fla block skeleton around `mixer` for every layer.
void AddLayers(const FlaCommon& common, MixerKind kind,
               const std::variant<AttentionSpec, Mamba2Spec, GatedDeltaNetSpec, PathSpec>& params,
               ModelSpec& spec) {
  spec.embedding = "model.embeddings.weight";
  spec.final_norm = "model.norm.weight";
  spec.lm_head = common.tied ? spec.embedding : "lm_head.weight";
  for (int i = 0; i < common.num_layers; ++i) {
    const std::string p = absl::StrCat("model.layers.", i, ".");
    LayerSpec layer;
    MixerSpec mixer;
    mixer.kind = kind;
    mixer.params = params;
    mixer.weight_prefix = p + "attn.";
    layer.mixer = mixer;
    layer.mixer_norm = p + "attn_norm.weight";
    layer.mlp = SwiGluMlp(p + "mlp.", common.intermediate);
    layer.mlp_norm = p + "mlp_norm.weight";
    spec.layers.push_back(std::move(layer));
  }
}

}  // namespace

absl::StatusOr<ModelSpec> ParseFlaGatedDeltaNet(const std::string& arch, ConfigReader& c) {
  ModelSpec spec;
  const FlaCommon common = ReadCommon(c, spec, 21);
  GatedDeltaNetSpec gdn;
  gdn.num_key_heads = c.Int("num_heads", 6);
  gdn.num_value_heads = c.Int("num_v_heads", gdn.num_key_heads);
  gdn.head_k_dim = c.Int("head_dim", 256);
  const double expand_v = c.Double("expand_v", 2.0);
  gdn.head_v_dim = c.Size("head_dim * expand_v", gdn.head_k_dim * expand_v);
  if (std::fabs(gdn.head_v_dim - gdn.head_k_dim * expand_v) > 1e-9)
    c.Error("head_dim * expand_v must be an integer");
  gdn.conv_kernel = c.Int("conv_size", 4);
  gdn.short_conv = c.Bool("use_short_conv", true);
  gdn.output_gate = c.Bool("use_gate", true);
  gdn.beta_scale = c.Bool("allow_neg_eigval", false) ? 2.0f : 1.0f;
  gdn.norm_eps = spec.norm_eps;
  gdn.norm_plus_one = false;
  gdn.fused_qkv = false;
  if (gdn.num_key_heads <= 0 || gdn.num_value_heads <= 0 ||
      gdn.num_value_heads % gdn.num_key_heads != 0)
    c.Error("num_v_heads must be a positive multiple of num_heads");
  if (gdn.conv_kernel < 1) c.Error("conv_size must be positive");
  if (c.Has("attn")) c.Error("hybrid fla models ('attn' set) are not supported");
  RETURN_IF_ERROR(c.Finish(arch));
  if (common.num_layers <= 0)
    return absl::InvalidArgumentError("num_hidden_layers must be positive");
  AddLayers(common, MixerKind::kGatedDeltaNet, gdn, spec);
  return spec;
}

absl::StatusOr<ModelSpec> ParseFlaPath(const std::string& arch, ConfigReader& c) {
  ModelSpec spec;
  const FlaCommon common = ReadCommon(c, spec, 24);
  PathSpec path;
  path.num_heads = c.Int("num_heads", 32);
  path.num_kv_heads = c.Int("num_kv_heads", path.num_heads);
  path.head_dim = path.num_heads > 0 ? spec.hidden_size / path.num_heads : 0;
  path.forget_gate = c.Bool("use_forget_gate", false);
  path.w_shortconv = c.Bool("use_w_shortconv", true);
  path.low_rank_w = c.Bool("use_low_rank_w", true);
  path.w_rank = 32;
  path.conv_kernel = 3;
  path.scale = path.head_dim > 0 ? 1.0f / std::sqrt(static_cast<float>(path.head_dim)) : 0.0f;
  if (path.num_heads <= 0 || path.num_kv_heads <= 0 || path.num_heads % path.num_kv_heads != 0)
    c.Error("num_heads must be a positive multiple of num_kv_heads");
  if (path.num_heads > 0 && spec.hidden_size % path.num_heads != 0)
    c.Error("hidden_size must be a multiple of num_heads");
  if (c.Bool("use_qk_norm", false)) c.Error("use_qk_norm = true is not supported");
  RETURN_IF_ERROR(c.Finish(arch));
  if (common.num_layers <= 0)
    return absl::InvalidArgumentError("num_hidden_layers must be positive");
  AddLayers(common, MixerKind::kPath, path, spec);
  return spec;
}

}  // namespace junction
