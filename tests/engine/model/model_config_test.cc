// config.json -> ModelSpec: every supported Llama-family variant, and clear errors otherwise.
#include <catch2/catch.hpp>

#include "engine/model/model_config.h"
#include "engine/model/rope.h"

namespace junction {
namespace {

nlohmann::json LlamaConfig() {
  return nlohmann::json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "hidden_size": 64, "vocab_size": 256,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
    "intermediate_size": 128, "rms_norm_eps": 1e-6, "max_position_embeddings": 4096,
    "rope_parameters": {"rope_theta": 10000.0, "rope_type": "default"},
    "tie_word_embeddings": false, "eos_token_id": [2, 7], "bos_token_id": 1})");
}

}  // namespace

TEST_CASE("Llama config parses into a spec", "[config]") {
  auto spec = ParseModelConfig(LlamaConfig());
  REQUIRE(spec.ok());
  REQUIRE(spec->layers.size() == 2);
  const auto& attn = std::get<AttentionSpec>(spec->layers[1].mixer->params);
  CHECK(attn.head_dim == 16);
  CHECK(attn.num_kv_heads == 2);
  CHECK(attn.rope.rotary_dim == 16);
  CHECK(spec->lm_head == "lm_head.weight");
  CHECK(spec->eos_token_ids == std::vector<TokenId>{2, 7});
  CHECK(spec->layers[0].mixer->weight_prefix == "model.layers.0.self_attn.");
}

TEST_CASE("old-style rope_scaling + rope_theta and tied embeddings", "[config]") {
  nlohmann::json c = LlamaConfig();
  c.erase("rope_parameters");
  c["rope_theta"] = 500000.0;
  c["rope_scaling"] = {{"type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 64}};
  c["tie_word_embeddings"] = true;
  auto spec = ParseModelConfig(c);
  REQUIRE(spec.ok());
  const auto& rope = std::get<AttentionSpec>(spec->layers[0].mixer->params).rope;
  CHECK(rope.type == RopeType::kLlama3);
  CHECK(rope.theta == 500000.0);
  CHECK(spec->lm_head == spec->embedding);
  // Low frequencies are divided by the factor, high ones kept.
  RopeFrequencies f = ComputeRopeFrequencies(rope);
  CHECK(f.inv_freq.front() == Approx(1.0f));
  CHECK(f.inv_freq.back() < 1.0 / std::pow(500000.0, 14.0 / 16) / 7.9);
}

TEST_CASE("Qwen variants: bias, q/k norm, sliding layers", "[config]") {
  nlohmann::json c = LlamaConfig();
  c["architectures"] = {"Qwen2ForCausalLM"};
  auto qwen2 = ParseModelConfig(c);
  REQUIRE(qwen2.ok());
  CHECK(std::get<AttentionSpec>(qwen2->layers[0].mixer->params).qkv_bias);
  CHECK_FALSE(std::get<AttentionSpec>(qwen2->layers[0].mixer->params).o_bias);
  c["architectures"] = {"Qwen3ForCausalLM"};
  c["use_sliding_window"] = true;
  c["sliding_window"] = 32;
  c["max_window_layers"] = 1;
  auto qwen3 = ParseModelConfig(c);
  REQUIRE(qwen3.ok());
  CHECK(std::get<AttentionSpec>(qwen3->layers[0].mixer->params).qk_norm);
  CHECK(qwen3->layers[0].mixer->kind == MixerKind::kAttention);
  CHECK(qwen3->layers[1].mixer->kind == MixerKind::kSlidingWindow);
}

TEST_CASE("Mistral's sliding_window: absent means 4096, null means none", "[config]") {
  nlohmann::json c = LlamaConfig();
  c["architectures"] = {"MistralForCausalLM"};
  auto absent = ParseModelConfig(c);
  REQUIRE(absent.ok());
  CHECK(std::get<AttentionSpec>(absent->layers[0].mixer->params).sliding_window == 4096);
  c["sliding_window"] = nullptr;
  auto none = ParseModelConfig(c);
  REQUIRE(none.ok());
  CHECK(none->layers[0].mixer->kind == MixerKind::kAttention);
}

TEST_CASE("unsupported configs are errors that say what is supported", "[config]") {
  nlohmann::json c = LlamaConfig();
  c["architectures"] = {"GPT2LMHeadModel"};
  auto unknown = ParseModelConfig(c);
  REQUIRE_FALSE(unknown.ok());
  CHECK_THAT(std::string(unknown.status().message()),
             Catch::Contains("GPT2LMHeadModel") && Catch::Contains("LlamaForCausalLM"));
  c = LlamaConfig();
  c["rope_parameters"]["rope_type"] = "dynamic";
  c["num_attention_heads"] = 3;
  c.erase("hidden_size");
  auto bad = ParseModelConfig(c);
  REQUIRE_FALSE(bad.ok());
  const std::string message(bad.status().message());
  // Every problem is reported at once.
  CHECK_THAT(message, Catch::Contains("dynamic") && Catch::Contains("hidden_size") &&
                          Catch::Contains("num_key_value_heads"));
  CHECK_FALSE(ParseModelConfig(nlohmann::json::array()).ok());
  CHECK_FALSE(ParseModelConfig(nlohmann::json::object()).ok());
}

TEST_CASE("fla configs: hidden_ratio gives the MLP size, out-of-range ratios are errors",
          "[config]") {
  nlohmann::json c = nlohmann::json::parse(R"({
    "architectures": ["GatedDeltaNetForCausalLM"], "hidden_size": 96, "vocab_size": 256,
    "num_hidden_layers": 1, "num_heads": 2, "head_dim": 32, "hidden_ratio": 4})");
  auto spec = ParseModelConfig(c);
  REQUIRE(spec.ok());
  REQUIRE(spec->layers[0].mlp.has_value());
  CHECK(spec->layers[0].mlp->intermediate_size == 256);  // 96 * 4 * 2/3 = 256
  // The fuzzer's input: 96 * 8.9e10 * 2/3 does not fit an int (was undefined behaviour).
  for (double ratio : {88888888888.0, -2.0, 0.0}) {
    c["hidden_ratio"] = ratio;
    auto bad = ParseModelConfig(c);
    REQUIRE_FALSE(bad.ok());
    CHECK_THAT(std::string(bad.status().message()), Catch::Contains("hidden_ratio"));
  }
  c["hidden_ratio"] = 4;
  c["expand_v"] = 1e12;  // the other sizes computed from doubles are checked the same way
  auto huge_v = ParseModelConfig(c);
  REQUIRE_FALSE(huge_v.ok());
  CHECK_THAT(std::string(huge_v.status().message()), Catch::Contains("expand_v"));
}

}  // namespace junction
