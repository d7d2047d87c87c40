#include "tests/support/golden.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>

#include "backends/cpu/cpu_backends.h"
#include "engine/generation/sequential_generator.h"
#include "nlohmann/json.hpp"

namespace junction::testing {

std::string TestDataDir() { return JUNCTION_TEST_DATA_DIR; }

std::vector<float> GoldenCase::Tensor(const std::string& name) const {
  auto it = tensors->tensors().find(name);
  if (it == tensors->tensors().end()) return {};
  std::vector<float> out(static_cast<size_t>(it->second.num_elements()));
  ConvertToFloat(it->second.dtype, it->second.data, it->second.num_elements(), out.data());
  return out;
}

GoldenCase LoadGoldenCase(const std::string& name) {
  GoldenCase golden;
  golden.name = name;
  const std::string dir = name.starts_with("/") ? name : TestDataDir() + "/golden/" + name;
  golden.model_dir = dir + "/model";
  std::ifstream in(dir + "/golden.json");
  REQUIRE(in.good());
  nlohmann::json j = nlohmann::json::parse(in);
  golden.prompts = j.at("prompts").get<std::vector<std::vector<TokenId>>>();
  golden.greedy = j.at("greedy").get<std::vector<std::vector<TokenId>>>();
  auto file = SafetensorsFile::Open(dir + "/golden.safetensors");
  REQUIRE(file.ok());
  golden.tensors = std::move(*file);
  return golden;
}

std::unique_ptr<ModelRunner> MakeCpuRunner(const std::string& model_dir, int num_blocks,
                                           int block_size, int num_state_slots) {
  static BackendRegistry* registry = [] {
    auto* r = new BackendRegistry();
    cpu::RegisterCpuBackends(*r);
    return r;
  }();
  auto spec = LoadModelSpec(model_dir);
  INFO(spec.status().ToString());
  REQUIRE(spec.ok());
  auto weights = WeightStore::Open(model_dir);
  INFO(weights.status().ToString());
  REQUIRE(weights.ok());
  cpu::CpuRunnerOptions options;
  options.cache = {block_size, num_blocks, num_state_slots};
  auto runner = cpu::CreateCpuModelRunner(*spec, std::shared_ptr<const WeightStore>(std::move(*weights)),
                                          *registry, options);
  INFO(runner.status().ToString());
  REQUIRE(runner.ok());
  return std::move(*runner);
}

float MaxAbsDiff(const float* a, const float* b, size_t n) {
  float worst = 0;
  for (size_t i = 0; i < n; ++i) {
    const float d = std::fabs(a[i] - b[i]);
    if (!(d <= worst)) worst = std::isnan(d) ? INFINITY : d;
  }
  return worst;
}

void CheckGoldenCase(const std::string& name, int prefill_chunk) {
  constexpr float kTolerance = 1e-3f;
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

}  // namespace junction::testing
