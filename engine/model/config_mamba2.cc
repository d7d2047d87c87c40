// Mamba2ForCausalLM: a stack of Mamba2 mixers (no MLP), each behind an RMSNorm.
// Weights: backbone.embeddings, backbone.layers.<i>.{norm, mixer.*}, backbone.norm_f, lm_head.
#include "engine/model/config_mamba2.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "engine/model/config_reader.h"
#include "engine/model/model_config.h"

namespace junction {

void ReadTimeStepLimit(ConfigReader& c, Mamba2Spec& spec) {
  spec.dt_min = 0.0f;
  spec.dt_max = std::numeric_limits<float>::infinity();
  const nlohmann::json* limit = c.Find("time_step_limit");
  if (limit == nullptr) return;
  std::optional<double> lo, hi;
  if (limit->is_array() && limit->size() == 2) {
    lo = ConfigReader::AsDouble((*limit)[0]);
    hi = ConfigReader::AsDouble((*limit)[1]);
  }
  if (!lo || !hi || std::isnan(*lo) || std::isnan(*hi) || *lo > *hi) {
    c.Error("'time_step_limit' must be [min, max] with min <= max");
    return;
  }
  spec.dt_min = static_cast<float>(*lo);
  spec.dt_max = static_cast<float>(*hi);
}

absl::StatusOr<ModelSpec> ParseMamba2Family(const std::string& arch, ConfigReader& c) {
  ModelSpec spec;
  spec.hidden_size = c.Int("hidden_size");
  spec.vocab_size = c.Int("vocab_size");
  spec.max_context = c.Int("max_position_embeddings", 1 << 20);  // no positional limit
  spec.norm_eps = static_cast<float>(c.Double("layer_norm_epsilon", 1e-5));
  const int num_layers = c.Int("num_hidden_layers");
  c.SpecialTokens(spec);
  if (!c.Bool("rms_norm", true)) c.Error("rms_norm = false (LayerNorm) is not supported");
  if (c.String("hidden_act", "silu") != "silu") c.Error("hidden_act must be 'silu'");
  const bool tied = c.Bool("tie_word_embeddings", false);

  Mamba2Spec m;
  m.num_heads = c.Int("num_heads");
  m.head_dim = c.Int("head_dim", 64);
  m.state_size = c.Int("state_size", 128);
  m.num_groups = c.Int("n_groups", 1);
  m.conv_kernel = c.Int("conv_kernel", 4);
  m.inner_size = c.Size("expand", c.Double("expand", 2.0) * spec.hidden_size);
  m.conv_bias = c.Bool("use_conv_bias", true);
  m.proj_bias = c.Bool("use_bias", false);
  m.norm_per_group = false;  // MambaRMSNormGated normalizes over all of I
  m.norm_eps = spec.norm_eps;
  m.chunk_size = c.Int("chunk_size", 256);
  ReadTimeStepLimit(c, m);
  if (m.num_heads * m.head_dim != m.inner_size)
    c.Error(absl::StrCat("num_heads * head_dim (", m.num_heads * m.head_dim,
                         ") must equal expand * hidden_size (", m.inner_size, ")"));
  if (m.num_groups <= 0 || m.num_heads % m.num_groups != 0)
    c.Error("num_heads must be a positive multiple of n_groups");
  RETURN_IF_ERROR(c.Finish(arch));
  if (num_layers <= 0) return absl::InvalidArgumentError("num_hidden_layers must be positive");

  spec.embedding = "backbone.embeddings.weight";
  spec.final_norm = "backbone.norm_f.weight";
  spec.lm_head = tied ? spec.embedding : "lm_head.weight";
  for (int i = 0; i < num_layers; ++i) {
    const std::string p = absl::StrCat("backbone.layers.", i, ".");
    LayerSpec layer;
    layer.mixer = MixerSpec{MixerKind::kMamba2, m, p + "mixer."};
    layer.mixer_norm = p + "norm.weight";
    spec.layers.push_back(std::move(layer));
  }
  return spec;
}

}  // namespace junction
