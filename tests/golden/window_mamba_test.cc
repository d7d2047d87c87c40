// Golden tests: the CPU float32 path against transformers' outputs for sliding-window (Mistral,
// Qwen3 sliding layers), Mamba2 and hybrid Mamba2 + attention (Granite, NemotronH) fixtures.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>

#include "engine/generation/sequential_generator.h"
#include "engine/model/model_config.h"
#include "tests/reference/window_attention_reference.h"
#include "tests/support/golden.h"

namespace junction::testing {
namespace {

constexpr const char* kCases[] = {"mistral_swa", "qwen3_swa",      "mamba2",
                                  "mamba2_g2",   "granite_hybrid", "nemotron_h"};

double MaxAbsDiff(const std::vector<float>& a, const std::vector<double>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::fabs(a[i] - b[i]);
    if (!(d <= worst)) worst = std::isnan(d) ? INFINITY : d;
  }
  return worst;
}

nlohmann::json FixtureConfig(const std::string& name) {
  std::ifstream in(TestDataDir() + "/golden/" + name + "/model/config.json");
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

}  // namespace

TEST_CASE("fixture configs map to the expected layers", "[golden][config]") {
  auto qwen = ParseModelConfig(FixtureConfig("qwen3_swa"));
  REQUIRE(qwen.ok());
  REQUIRE(qwen->layers.size() == 3);
  CHECK(qwen->layers[0].mixer->kind == MixerKind::kAttention);
  for (int i : {1, 2}) {
    CHECK(qwen->layers[i].mixer->kind == MixerKind::kSlidingWindow);
    CHECK(std::get<AttentionSpec>(qwen->layers[i].mixer->params).sliding_window == 16);
  }
  nlohmann::json no_sliding = FixtureConfig("qwen3_swa");
  no_sliding["use_sliding_window"] = false;  // HF then drops the window whatever layer_types says
  auto full = ParseModelConfig(no_sliding);
  REQUIRE(full.ok());
  for (const LayerSpec& layer : full->layers) CHECK(layer.mixer->kind == MixerKind::kAttention);

  auto mamba = ParseModelConfig(FixtureConfig("mamba2_g2"));
  REQUIRE(mamba.ok());
  const auto& m = std::get<Mamba2Spec>(mamba->layers[0].mixer->params);
  CHECK(m.num_groups == 2);
  CHECK(std::isinf(m.dt_max));  // {"__float__": "Infinity"}
  CHECK(!m.norm_per_group);

  auto nemotron = ParseModelConfig(FixtureConfig("nemotron_h"));
  REQUIRE(nemotron.ok());
  REQUIRE(nemotron->layers.size() == 4);
  CHECK(std::get<Mamba2Spec>(nemotron->layers[0].mixer->params).norm_per_group);
  CHECK((!nemotron->layers[1].mixer && nemotron->layers[1].mlp->kind == MlpKind::kRelu2));
  CHECK(std::get<AttentionSpec>(nemotron->layers[2].mixer->params).rope.type == RopeType::kNone);

  auto granite = ParseModelConfig(FixtureConfig("granite_hybrid"));
  REQUIRE(granite.ok());
  CHECK(granite->logits_divisor == 4.0f);
  CHECK(granite->lm_head == granite->embedding);
  CHECK(std::get<AttentionSpec>(granite->layers[2].mixer->params).scale == 0.0625f);
}

TEST_CASE("mixture-of-experts hybrids are refused clearly", "[golden][config]") {
  nlohmann::json granite = FixtureConfig("granite_hybrid");
  granite["num_local_experts"] = 8;
  auto g = ParseModelConfig(granite);
  REQUIRE(!g.ok());
  CHECK(g.status().message().find("not supported yet") != absl::string_view::npos);
  nlohmann::json nemotron = FixtureConfig("nemotron_h");
  nemotron["layers_block_type"][1] = "moe";
  auto n = ParseModelConfig(nemotron);
  REQUIRE(!n.ok());
  CHECK(n.status().message().find("not supported yet") != absl::string_view::npos);
  nemotron.erase("layers_block_type");
  nemotron["hybrid_override_pattern"] = "M-*-";
  CHECK(ParseModelConfig(nemotron).ok());
}

TEST_CASE("golden mistral_swa", "[golden]") { CheckGoldenCase("mistral_swa", 0); }
TEST_CASE("golden qwen3_swa", "[golden]") { CheckGoldenCase("qwen3_swa", 0); }
TEST_CASE("golden mamba2", "[golden]") { CheckGoldenCase("mamba2", 0); }
TEST_CASE("golden mamba2_g2", "[golden]") { CheckGoldenCase("mamba2_g2", 0); }
TEST_CASE("golden granite_hybrid", "[golden]") { CheckGoldenCase("granite_hybrid", 0); }
TEST_CASE("golden nemotron_h", "[golden]") { CheckGoldenCase("nemotron_h", 0); }
TEST_CASE("golden window and Mamba2 families, prefill in chunks of 16", "[golden]") {
  for (const char* name : kCases) CheckGoldenCase(name, 16);
}

// StreamingLLM length extension at the model level: a full-attention model decodes ~2,000
// greedy tokens with AttentionPolicy::kWindow (W = 64, 4 sinks, prefill in chunks of 16); the
// logits at sampled steps match a float64 forward in which every attention layer sees the sinks
// and the window at cache positions. (Block release and a constant block count are the engine's
// part: SequentialGenerator keeps every block.)
TEST_CASE("window policy: 2,000 greedy tokens match the float64 StreamingLLM reference",
          "[golden][window]") {
  constexpr int kWindow = 64, kSinks = 4, kTotal = 2000;
  GoldenCase golden = LoadGoldenCase("llama");
  const std::vector<TokenId>& prompt = golden.prompts[3];
  auto runner = MakeCpuRunner(golden.model_dir, kTotal / 16 + 2);
  SequentialGenerator generator(*runner);
  SequentialOptions options;
  options.prefill_chunk = 16;
  options.keep_step_logits = true;
  options.policy = {AttentionPolicy::Mode::kWindow, kWindow, kSinks};
  SamplingParams greedy;
  greedy.temperature = 0;
  greedy.max_tokens = kTotal - static_cast<int>(prompt.size());
  greedy.ignore_eos = true;
  auto result = generator.Generate(prompt, greedy, options);
  INFO(result.status().ToString());
  REQUIRE(result.ok());
  REQUIRE(static_cast<int>(result->ids.size()) == greedy.max_tokens);

  std::vector<TokenId> tokens = prompt;
  tokens.insert(tokens.end(), result->ids.begin(), result->ids.end() - 1);
  const std::vector<int> steps = {0, 1, 30, 100, 500, 1000, 1500, greedy.max_tokens - 1};
  std::vector<int> rows;
  for (int s : steps) rows.push_back(static_cast<int>(prompt.size()) - 1 + s);
  auto weights = WeightStore::Open(golden.model_dir);
  REQUIRE(weights.ok());
  const ModelSpec& spec = runner->spec();
  const auto ref = reference::LlamaLogitsReference(spec, **weights, tokens, kWindow, kSinks,
                                                   /*cache_positions=*/true, rows);
  for (size_t i = 0; i < steps.size(); ++i) {
    INFO("step " << steps[i] << " (position " << rows[i] << ")");
    const std::vector<float>& logits = result->step_logits[steps[i]];
    CHECK(MaxAbsDiff(logits, ref[i]) <= 1e-3);
    const double best = *std::max_element(ref[i].begin(), ref[i].end());
    CHECK(ref[i][result->ids[steps[i]]] >= best - 1e-3);  // the greedy pick is the reference's
  }
  // The check can fail: full attention, or sinks at their text positions, give other logits.
  const std::vector<int> late = {rows[5], rows[7]};
  const auto full = reference::LlamaLogitsReference(spec, **weights, tokens, 0, 0, false, late);
  const auto text = reference::LlamaLogitsReference(spec, **weights, tokens, kWindow, kSinks,
                                                    /*cache_positions=*/false, late);
  for (size_t i = 0; i < late.size(); ++i) {
    const std::vector<float>& logits = result->step_logits[steps[5 + 2 * i]];
    CHECK(MaxAbsDiff(logits, full[i]) > 1e-2);
    CHECK(MaxAbsDiff(logits, text[i]) > 1e-3);
  }
}

}  // namespace junction::testing
