// engine_8b: the whole engine on the GPU for a Llama-3-8B-shaped model whose random bf16 weights
// are generated on the device (bench/configs/llama3_8b_shape.json; no checkpoint). Measures
//   - the device copy bandwidth (cudaMemcpy device to device, bytes read + written),
//   - batch-1 decode tokens/s through the real engine (one request, prompt 512, 256 new tokens)
//     against the weight-bandwidth floor: the bytes one decode step must read (every matrix but
//     the embedding table, of which a step reads one row) over the measured bandwidth,
//   - offline throughput: N requests (default 1,000; input 512, output 256, ignore_eos, greedy)
//     submitted at once to the engine made by CreateEngine, as a batch job.
// Flags: --config PATH --requests N (0: batch-1 only) --input N --output N --max-seconds S
// (offline cap: requests unfinished by then are cancelled and the partial counts reported) --out
// FILE (appends the table), plus every engine flag (--kv-memory, --max-seqs, --cuda-graphs,
// --device-sampling, ...). The table counts how the runner's decode steps ran (graph
// replays, captures, eager steps).
#ifdef JUNCTION_WITH_CUDA

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "backends/cuda/cuda_backends.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device_memory.h"
#include "backends/cuda/random_weights.h"
#include "bench/bench_registry.h"
#include "engine/model/model_config.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/memory_budget.h"
#include "nlohmann/json.hpp"

namespace junction::cuda {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Device-to-device copy rate, counting bytes read plus bytes written (median of 10 copies).
double CopyBandwidth() {
  const size_t bytes = size_t{2} << 30;
  auto a = DeviceBuffer::Allocate(bytes), b = DeviceBuffer::Allocate(bytes);
  if (!a.ok() || !b.ok()) return 0;
  cudaMemset(a->data(), 1, bytes);
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  std::vector<float> ms;
  for (int i = 0; i < 13; ++i) {
    cudaEventRecord(start);
    cudaMemcpyAsync(b->data(), a->data(), bytes, cudaMemcpyDeviceToDevice);
    cudaEventRecord(stop);
    cudaEventSynchronize(stop);
    float t = 0;
    cudaEventElapsedTime(&t, start, stop);
    if (i >= 3) ms.push_back(t);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(ms.begin(), ms.end());
  return 2.0 * bytes / (ms[ms.size() / 2] * 1e-3);
}

struct Outcome {
  int requests_done = 0;
  int64_t prompt_tokens = 0, output_tokens = 0;
  double seconds = 0;
  bool capped = false;
  std::string error;
};

GenerateRequest MakeRequest(std::mt19937& rng, int vocab, int input, int output) {
  GenerateRequest r;
  r.prompt.resize(input);
  for (TokenId& t : r.prompt) t = static_cast<TokenId>(rng() % vocab);
  r.sampling.temperature = 0;
  r.sampling.max_tokens = output;
  r.sampling.ignore_eos = true;
  return r;
}

// One request alone: time to first token and the decode rate over the following tokens.
bool SingleRequest(EngineApi& engine, GenerateRequest request, double* ttft, double* decode_tps) {
  const Clock::time_point submitted = Clock::now();
  auto stream = engine.Submit(std::move(request));
  if (!stream.ok()) {
    std::fprintf(stderr, "submit: %s\n", stream.status().ToString().c_str());
    return false;
  }
  std::vector<Clock::time_point> times;
  int tokens = 0;
  Clock::time_point first{};
  while (auto delta = (*stream)->Next()) {
    if (!delta->token_ids.empty()) {
      if (tokens == 0) first = delta->time;
      tokens += static_cast<int>(delta->token_ids.size());
      times.push_back(delta->time);
    }
    if (delta->finish == FinishReason::kError) {
      std::fprintf(stderr, "request: %s\n", delta->error.ToString().c_str());
      return false;
    }
    if (delta->finish != FinishReason::kNone) break;
  }
  if (tokens < 2) return false;
  *ttft = Seconds(first - submitted);
  *decode_tps = (tokens - 1) / Seconds(times.back() - first);
  return true;
}

Outcome Offline(EngineApi& engine, int vocab, int num_requests, int input, int output,
                double max_seconds) {
  Outcome out;
  std::mt19937 rng(42);
  std::vector<std::shared_ptr<RequestStream>> streams;
  const Clock::time_point start = Clock::now();
  for (int i = 0; i < num_requests; ++i) {
    auto stream = engine.Submit(MakeRequest(rng, vocab, input, output));
    if (!stream.ok()) {
      out.error = stream.status().ToString();
      break;
    }
    streams.push_back(*stream);
  }
  std::vector<bool> done(streams.size(), false);
  std::vector<Usage> usage(streams.size());
  size_t remaining = streams.size();
  while (remaining > 0) {
    bool progressed = false;
    for (size_t i = 0; i < streams.size(); ++i) {
      if (done[i]) continue;
      while (auto delta = streams[i]->Next(Clock::now())) {
        progressed = true;
        usage[i] = delta->usage;
        if (delta->finish == FinishReason::kError && out.error.empty())
          out.error = delta->error.ToString();
        if (delta->finish != FinishReason::kNone) {
          done[i] = true;
          --remaining;
          if (delta->finish == FinishReason::kLength || delta->finish == FinishReason::kStop)
            ++out.requests_done;
          break;
        }
      }
    }
    if (!out.capped && Seconds(Clock::now() - start) > max_seconds) {
      out.capped = true;
      for (size_t i = 0; i < streams.size(); ++i)
        if (!done[i]) engine.Cancel(streams[i]->id());
    }
    if (!progressed) std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  out.seconds = Seconds(Clock::now() - start);
  for (const Usage& u : usage) {
    out.prompt_tokens += u.prompt_tokens;
    out.output_tokens += u.completion_tokens;
  }
  return out;
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "engine_8b: %s\n", what.c_str());
  return 1;
}

}  // namespace
}  // namespace junction::cuda

JUNCTION_BENCHMARK(engine_8b,
                   "CUDA engine, Llama-3-8B shape with random device weights: batch-1 decode vs "
                   "the weight-bandwidth floor, offline throughput") {
  using namespace junction;
  using namespace junction::cuda;
  std::string config_path = "bench/configs/llama3_8b_shape.json", out_path;
  int num_requests = 1000, input = 512, output = 256;
  double max_seconds = 300;
  EngineConfig config;
  std::vector<std::string> problems;
  std::vector<std::string> argv_storage(args.begin(), args.end());
  std::vector<char*> argv{const_cast<char*>("engine_8b")};
  for (std::string& a : argv_storage) argv.push_back(a.data());
  for (int i = 1; i < static_cast<int>(argv.size()); ++i) {
    if (ParseEngineFlag(static_cast<int>(argv.size()), argv.data(), &i, config, problems)) continue;
    const std::string flag = argv[i];
    if (i + 1 >= static_cast<int>(argv.size())) return Fail(flag + ": missing value");
    const std::string value = argv[++i];
    int v = 0;
    if (flag == "--config") config_path = value;
    else if (flag == "--out") out_path = value;
    else if (flag == "--max-seconds" && absl::SimpleAtoi(value, &v)) max_seconds = v;
    else if (flag == "--requests" && absl::SimpleAtoi(value, &v)) num_requests = v;
    else if (flag == "--input" && absl::SimpleAtoi(value, &v)) input = v;
    else if (flag == "--output" && absl::SimpleAtoi(value, &v)) output = v;
    else return Fail("unknown flag or bad value: " + flag + " " + value);
  }
  if (!problems.empty()) return Fail(problems.front());

  absl::StatusOr<DeviceInfo> device = QueryCudaDevice();
  if (!device.ok()) return Fail(std::string(device.status().message()));
  std::ifstream in(config_path);
  if (!in) return Fail("cannot read " + config_path);
  auto spec = ParseModelConfig(nlohmann::json::parse(in));
  if (!spec.ok()) return Fail(spec.status().ToString());

  const double bandwidth = CopyBandwidth();
  const int64_t weight_bytes = CudaWeightBytes(*spec);
  const int64_t step_bytes = CudaWeightBytes(*spec, /*read_per_decode_step=*/true);
  const double floor_tps = bandwidth / step_bytes;

  if (config.kv_memory_bytes == 0) {
    auto memory = QueryCudaMemory();
    if (!memory.ok()) return Fail(memory.status().ToString());
    // As junction-server sizes it: 90 % of what is free after the weights and 3 GiB; the
    // engine's budget counts 4-byte K/V elements, the CUDA runner stores 2-byte ones.
    config.kv_memory_bytes = (memory->free_bytes - weight_bytes - (int64_t{3} << 30)) / 10 * 9 * 2;
  }
  config.max_waiting = std::max(config.max_waiting, num_requests);
  BackendRegistry registry;
  RegisterCudaBackends(registry);
  std::shared_ptr<const WeightStore> weights = MakeRandomWeightSource(1);
  const ModelSpec model = *spec;
  const Clock::time_point load_start = Clock::now();
  const ModelRunner* runner = nullptr;  // owned by the engine; read for its graph counts
  auto engine = CreateEngine(
      model, config, *device, registry,
      [&](const CacheGeometry& geometry) -> absl::StatusOr<std::unique_ptr<ModelRunner>> {
        CudaRunnerOptions options;
        options.cache = geometry;
        options.cuda_graphs = config.cuda_graphs;
        auto made = CreateCudaModelRunner(model, weights, registry, options);
        if (made.ok()) runner = made->get();
        return made;
      });
  if (!engine.ok()) return Fail(engine.status().ToString());
  const double load_seconds = Seconds(Clock::now() - load_start);
  const EngineStats stats = (*engine)->Stats();

  std::mt19937 rng(7);
  double ttft = 0, tps = 0;
  // Warm-up: cuBLASLt heuristics, buffer growth, every prefill / decode shape once.
  if (!SingleRequest(**engine, MakeRequest(rng, model.vocab_size, input, 16), &ttft, &tps))
    return Fail("warm-up request failed");
  std::vector<double> ttfts, rates;
  for (int r = 0; r < 3; ++r) {
    if (!SingleRequest(**engine, MakeRequest(rng, model.vocab_size, input, output), &ttft, &tps))
      return Fail("batch-1 request failed");
    ttfts.push_back(ttft);
    rates.push_back(tps);
  }
  std::sort(ttfts.begin(), ttfts.end());
  std::sort(rates.begin(), rates.end());
  const double decode_tps = rates[1], prefill_ttft = ttfts[1];
  // Read while the engine is idle (the engine thread owns the runner).
  const DecodeGraphStats batch1_graphs = CudaDecodeGraphStats(*runner);

  // --requests 0: batch-1 only.
  const Outcome offline =
      num_requests > 0
          ? Offline(**engine, model.vocab_size, num_requests, input, output, max_seconds)
          : Outcome{};
  (*engine)->Drain();
  const EngineStats after = (*engine)->Stats();
  const DecodeGraphStats all_graphs = CudaDecodeGraphStats(*runner);

  std::string table;
  table += absl::StrFormat(
      "engine_8b: %s (sm_%d); %d layers, hidden %d, vocab %d; weights %.2f GB (%.2f GB read per "
      "decode step); load %.1f s (random weights generated on the device)\n",
      device->name, device->cuda_sm, static_cast<int>(model.layers.size()), model.hidden_size,
      model.vocab_size, weight_bytes / 1e9, step_bytes / 1e9, load_seconds);
  table += absl::StrFormat("sampling on the %s; CUDA graphs %s\n",
                           config.device_sampling ? "GPU (--device-sampling)" : "host",
                           config.cuda_graphs ? "on (--cuda-graphs)" : "off");
  table += absl::StrFormat(
      "KV cache: %d blocks of %d tokens (%.1f GB); max seqs %d, max batched tokens %d\n",
      stats.kv_blocks_total, config.block_size,
      stats.kv_blocks_total * double(KvBytesPerBlock(model, config.block_size, 2)) / 1e9,
      config.max_num_seqs, config.max_batched_tokens);
  table += "| measure | value | floor / reference | ratio |\n| --- | --- | --- | --- |\n";
  table += absl::StrFormat("| device copy bandwidth (read + write) | %.0f GB/s | | |\n",
                           bandwidth / 1e9);
  table += absl::StrFormat(
      "| batch-1 decode (prompt %d, %d new, median of 3) | %.1f tokens/s (%.2f ms/token) | "
      "%.1f tokens/s (%.2f ms: %.2f GB / %.0f GB/s) | %.2f |\n",
      input, output, decode_tps, 1e3 / decode_tps, floor_tps, 1e3 / floor_tps, step_bytes / 1e9,
      bandwidth / 1e9, decode_tps / floor_tps);
  table += absl::StrFormat("| batch-1 time to first token (prompt %d) | %.1f ms | | |\n", input,
                           prefill_ttft * 1e3);
  auto graph_row = [&](const char* what, const DecodeGraphStats& g) {
    table += absl::StrFormat(
        "| %s decode steps: graph replays / captures / eager / failed captures | %lld / %lld / "
        "%lld / %lld | | |\n",
        what, static_cast<long long>(g.replayed_steps), static_cast<long long>(g.captured_steps),
        static_cast<long long>(g.eager_steps), static_cast<long long>(g.failed_captures));
  };
  graph_row("warm-up + batch-1", batch1_graphs);
  if (num_requests > 0) {
    table += absl::StrFormat(
        "| offline: %d requests x (in %d, out %d)%s | %d done in %.1f s: %.0f output tokens/s, "
        "%.0f total tokens/s | | |\n",
        num_requests, input, output, offline.capped ? " (stopped at the time cap)" : "",
        offline.requests_done, offline.seconds, offline.output_tokens / offline.seconds,
        (offline.output_tokens + offline.prompt_tokens) / offline.seconds);
    table += absl::StrFormat("| offline preemptions | %lld | | |\n",
                             static_cast<long long>(after.preemptions_total));
    DecodeGraphStats offline_graphs = all_graphs;
    offline_graphs.replayed_steps -= batch1_graphs.replayed_steps;
    offline_graphs.captured_steps -= batch1_graphs.captured_steps;
    offline_graphs.eager_steps -= batch1_graphs.eager_steps;
    offline_graphs.failed_captures -= batch1_graphs.failed_captures;
    graph_row("offline", offline_graphs);
  }
  if (!offline.error.empty()) table += "offline error: " + offline.error + "\n";
  std::printf("%s", table.c_str());
  if (!out_path.empty()) {
    if (FILE* f = std::fopen(out_path.c_str(), "a")) {
      std::fprintf(f, "%s", table.c_str());
      std::fclose(f);
    }
  }
  return offline.error.empty() && (num_requests == 0 || offline.requests_done > 0) ? 0 : 1;
}

#endif  // JUNCTION_WITH_CUDA
