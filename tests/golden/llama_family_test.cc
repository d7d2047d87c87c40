// Golden tests: the CPU float32 path against transformers' outputs for Llama-family fixtures.
#include <catch2/catch.hpp>

#include "engine/generation/sequential_generator.h"
#include "tests/support/golden.h"

namespace junction::testing {
namespace {

constexpr float kTolerance = 1e-3f;

// Full-sequence logits of each prompt, its 24 greedy ids, and the logits at each greedy step,
// with the prompt prefilled whole (chunk 0) or in chunks.
void CheckGoldenCase(const std::string& name, int prefill_chunk) {
  GoldenCase golden = LoadGoldenCase(name);
  auto runner = MakeCpuRunner(golden.model_dir);
  const int vocab = runner->spec().vocab_size;
  for (size_t i = 0; i < golden.prompts.size(); ++i) {
    INFO(name << " prompt " << i << " (length " << golden.prompts[i].size() << "), prefill chunk "
              << prefill_chunk);
    SequentialGenerator generator(*runner);
    SequentialOptions options;
    options.prefill_chunk = prefill_chunk;
    auto logits = generator.PromptLogits(golden.prompts[i], options);
    INFO(logits.status().ToString());
    REQUIRE(logits.ok());
    const std::vector<float> expected = golden.Tensor("logits_" + std::to_string(i));
    REQUIRE(logits->size() == expected.size());
    CHECK(MaxAbsDiff(logits->data(), expected.data(), expected.size()) <= kTolerance);

    SamplingParams greedy;
    greedy.temperature = 0;
    greedy.max_tokens = static_cast<int>(golden.greedy[i].size());
    greedy.ignore_eos = true;
    options.keep_step_logits = true;
    auto result = generator.Generate(golden.prompts[i], greedy, options);
    INFO(result.status().ToString());
    REQUIRE(result.ok());
    CHECK(result->ids == golden.greedy[i]);
    const std::vector<float> step_expected = golden.Tensor("greedy_logits_" + std::to_string(i));
    REQUIRE(step_expected.size() == golden.greedy[i].size() * vocab);
    float worst = 0;
    for (size_t s = 0; s < result->step_logits.size(); ++s)
      worst = std::max(worst, MaxAbsDiff(result->step_logits[s].data(),
                                         &step_expected[s * vocab], vocab));
    CHECK(worst <= kTolerance);
  }
}

}  // namespace

TEST_CASE("golden llama", "[golden]") { CheckGoldenCase("llama", 0); }
TEST_CASE("golden llama3_rope", "[golden]") { CheckGoldenCase("llama3_rope", 0); }
TEST_CASE("golden llama_yarn", "[golden]") { CheckGoldenCase("llama_yarn", 0); }
TEST_CASE("golden qwen2_bias", "[golden]") { CheckGoldenCase("qwen2_bias", 0); }
TEST_CASE("golden qwen3", "[golden]") { CheckGoldenCase("qwen3", 0); }
TEST_CASE("golden llama family, prefill in chunks of 16", "[golden]") {
  for (const char* name : {"llama", "llama3_rope", "llama_yarn", "qwen2_bias", "qwen3"})
    CheckGoldenCase(name, 16);
}

}  // namespace junction::testing
