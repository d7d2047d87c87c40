// Random weights generated on the device (--random-weights, engine_8b): a runner built from a
// config alone gives finite logits, the same seed the same model, another seed another one; the
// weight byte count used for the decode floor.
#include <cmath>
#include <fstream>

#include "backends/cuda/random_weights.h"
#include "engine/generation/sequential_generator.h"
#include "engine/model/model_config.h"
#include "tests/backends/cuda/cuda_test_util.h"

namespace junction::cuda::testing {
namespace {

ModelSpec SmallSpec() {
  nlohmann::json config = {{"architectures", {"LlamaForCausalLM"}},
                           {"hidden_size", 256},
                           {"num_hidden_layers", 2},
                           {"num_attention_heads", 4},
                           {"num_key_value_heads", 2},
                           {"intermediate_size", 512},
                           {"vocab_size", 1000},
                           {"max_position_embeddings", 512}};
  auto spec = ParseModelConfig(config);
  REQUIRE(spec.ok());
  return *spec;
}

std::vector<float> PromptLogits(const ModelSpec& spec, uint64_t seed) {
  static BackendRegistry* registry = [] {
    auto* r = new BackendRegistry();
    RegisterCudaBackends(*r);
    return r;
  }();
  CudaRunnerOptions options;
  options.cache.block_size = 16;
  options.cache.num_blocks = 8;
  auto runner = CreateCudaModelRunner(spec, MakeRandomWeightSource(seed), *registry, options);
  INFO(runner.status().ToString());
  REQUIRE(runner.ok());
  SequentialGenerator generator(**runner);
  auto logits = generator.PromptLogits({1, 17, 300, 999, 5, 64, 2}, SequentialOptions{});
  INFO(logits.status().ToString());
  REQUIRE(logits.ok());
  return *logits;
}

TEST_CASE("random device weights: finite, seeded, reproducible", "[gpu]") {
  if (!HaveGpu()) return;
  const ModelSpec spec = SmallSpec();
  const std::vector<float> a = PromptLogits(spec, 1), b = PromptLogits(spec, 1),
                           c = PromptLogits(spec, 2);
  REQUIRE(a.size() == 7u * 1000u);
  double sum_sq = 0;
  for (float v : a) {
    REQUIRE(std::isfinite(v));
    sum_sq += double(v) * v;
  }
  const double rms = std::sqrt(sum_sq / a.size());
  INFO("logit rms " << rms);
  CHECK(rms > 0.05);  // not all zero: the weights were written
  CHECK(rms < 50);    // 1/sqrt(fan-in) scaling keeps activations O(1)
  CHECK(a == b);
  CHECK(a != c);
}

TEST_CASE("a random source is recognised only while it lives", "[gpu]") {
  auto store = MakeRandomWeightSource(9);
  REQUIRE(RandomWeightSeed(*store) == 9u);
  auto plain = WeightStore::FromFloatTensors({});
  CHECK_FALSE(RandomWeightSeed(*plain).has_value());
}

TEST_CASE("weight bytes of the Llama-3-8B shape", "[gpu]") {
  std::ifstream in(JUNCTION_TEST_DATA_DIR "/../bench/configs/llama3_8b_shape.json");
  REQUIRE(in.good());
  auto spec = ParseModelConfig(nlohmann::json::parse(in));
  REQUIRE(spec.ok());
  // 2 x 128256 x 4096 x 2 (embedding, LM head) + 32 x (attention 83,886,080 + MLP 352,321,536 +
  // two norms 32,768) + final norm 16,384.
  CHECK(CudaWeightBytes(*spec) == int64_t{16061054976});
  CHECK(CudaWeightBytes(*spec, true) == int64_t{16061054976} - int64_t{128256} * 4096 * 2);
}

}  // namespace
}  // namespace junction::cuda::testing
