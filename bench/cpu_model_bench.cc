// cpu_model: prompt and decode throughput of the CPU reference path on a Llama-shaped model
// with random weights (default: 12 layers, hidden 768, 12 heads, intermediate 2048, vocab 32000).
#include <chrono>
#include <cstdio>
#include <random>

#include "absl/strings/numbers.h"
#include "backends/cpu/cpu_backends.h"
#include "bench/bench_registry.h"
#include "engine/generation/sequential_generator.h"
#include "engine/model/model_config.h"

namespace junction::bench {
namespace {

struct Shape {
  int layers = 12, hidden = 768, heads = 12, kv_heads = 12, intermediate = 2048, vocab = 32000;
  int prompt = 512, decode = 64, repeats = 3;
};

std::unique_ptr<WeightStore> RandomWeights(const ModelSpec& spec, const Shape& s) {
  std::mt19937 rng(1234);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  auto tensor = [&](std::vector<int64_t> shape, bool ones = false) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> v(n);
    for (float& x : v) x = ones ? 1.0f : normal(rng);
    return std::make_pair(shape, std::move(v));
  };
  const int64_t head_dim = s.hidden / s.heads;
  std::vector<std::pair<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>> t;
  t.push_back({spec.embedding, tensor({s.vocab, s.hidden})});
  t.push_back({spec.final_norm, tensor({s.hidden}, true)});
  t.push_back({spec.lm_head, tensor({s.vocab, s.hidden})});
  for (const LayerSpec& layer : spec.layers) {
    const std::string& p = layer.mixer->weight_prefix;
    t.push_back({p + "q_proj.weight", tensor({s.heads * head_dim, s.hidden})});
    t.push_back({p + "k_proj.weight", tensor({s.kv_heads * head_dim, s.hidden})});
    t.push_back({p + "v_proj.weight", tensor({s.kv_heads * head_dim, s.hidden})});
    t.push_back({p + "o_proj.weight", tensor({s.hidden, s.heads * head_dim})});
    t.push_back({layer.mixer_norm, tensor({s.hidden}, true)});
    t.push_back({layer.mlp->gate, tensor({s.intermediate, s.hidden})});
    t.push_back({layer.mlp->up, tensor({s.intermediate, s.hidden})});
    t.push_back({layer.mlp->down, tensor({s.hidden, s.intermediate})});
    t.push_back({layer.mlp_norm, tensor({s.hidden}, true)});
  }
  return WeightStore::FromFloatTensors(std::move(t));
}

// Bytes per second a parallel streaming read of `bytes` achieves: the decode ceiling, since a
// decode step must read every weight once.
double ReadBandwidth(int64_t bytes) {
  std::vector<float> data(bytes / 4, 1.0f);
  double best = 0;
  for (int r = 0; r < 5; ++r) {
    const auto start = std::chrono::steady_clock::now();
    float total = 0;
#pragma omp parallel for simd reduction(+ : total) schedule(static)
    for (int64_t i = 0; i < static_cast<int64_t>(data.size()); ++i) total += data[i];
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (total > 0) best = std::max(best, bytes / seconds);
  }
  return best;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

JUNCTION_BENCHMARK(cpu_model, "CPU prompt/decode tokens/s, Llama-shaped random model") {
  Shape s;
  for (size_t i = 0; i + 1 < args.size(); i += 2) {
    int v = 0;
    if (!absl::SimpleAtoi(args[i + 1], &v)) continue;
    if (args[i] == "--layers") s.layers = v;
    if (args[i] == "--hidden") s.hidden = v;
    if (args[i] == "--heads") s.heads = s.kv_heads = v;
    if (args[i] == "--prompt") s.prompt = v;
    if (args[i] == "--decode") s.decode = v;
    if (args[i] == "--repeats") s.repeats = v;
  }
  nlohmann::json config = {{"architectures", {"LlamaForCausalLM"}},
                           {"hidden_size", s.hidden}, {"num_hidden_layers", s.layers},
                           {"num_attention_heads", s.heads}, {"num_key_value_heads", s.kv_heads},
                           {"intermediate_size", s.intermediate}, {"vocab_size", s.vocab},
                           {"max_position_embeddings", 4096}};
  auto spec = ParseModelConfig(config);
  if (!spec.ok()) {
    std::fprintf(stderr, "%s\n", spec.status().ToString().c_str());
    return 1;
  }
  BackendRegistry registry;
  cpu::RegisterCpuBackends(registry);
  cpu::CpuRunnerOptions options;
  options.cache = {16, (s.prompt + s.decode) / 16 + 2, 1};
  auto runner = cpu::CreateCpuModelRunner(*spec, RandomWeights(*spec, s), registry, options);
  if (!runner.ok()) {
    std::fprintf(stderr, "%s\n", runner.status().ToString().c_str());
    return 1;
  }
  std::mt19937 rng(7);
  std::vector<TokenId> prompt(s.prompt);
  for (TokenId& t : prompt) t = static_cast<TokenId>(rng() % s.vocab);
  SamplingParams greedy;
  greedy.temperature = 0;
  greedy.max_tokens = s.decode + 1;
  greedy.ignore_eos = true;
  std::vector<double> prefill, decode;
  SequentialGenerator generator(**runner);
  for (int r = 0; r < s.repeats + 1; ++r) {  // the first run warms up
    auto result = generator.Generate(prompt, greedy, {});
    if (!result.ok()) {
      std::fprintf(stderr, "%s\n", result.status().ToString().c_str());
      return 1;
    }
    if (r == 0) continue;
    prefill.push_back(s.prompt / result->prefill_seconds);
    decode.push_back(s.decode / result->decode_seconds);
  }
  std::printf("model: %d layers, hidden %d, %d heads, intermediate %d, vocab %d (float32)\n",
              s.layers, s.hidden, s.heads, s.intermediate, s.vocab);
  std::printf("prompt %d tokens: %.1f tokens/s (median of %d)\n", s.prompt, Median(prefill),
              s.repeats);
  std::printf("decode %d tokens: %.2f tokens/s (median of %d)\n", s.decode, Median(decode),
              s.repeats);
  // Weights read per decode step: every matrix once (float32).
  const int64_t head_dim = s.hidden / s.heads;
  const int64_t per_layer = 2 * s.hidden * s.heads * head_dim + 2 * s.hidden * s.kv_heads * head_dim +
                            3 * static_cast<int64_t>(s.hidden) * s.intermediate;
  const int64_t weight_bytes = 4 * (s.layers * per_layer + 2 * static_cast<int64_t>(s.vocab) * s.hidden);
  const double bandwidth = ReadBandwidth(weight_bytes);
  const double floor_tps = bandwidth / weight_bytes;
  std::printf("weights %.0f MB; streaming read %.2f GB/s -> decode ceiling %.2f tokens/s; "
              "measured decode = %.0f%% of it\n",
              weight_bytes / 1e6, bandwidth / 1e9, floor_tps, 100 * Median(decode) / floor_tps);
  return 0;
}

}  // namespace junction::bench
