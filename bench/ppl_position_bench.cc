// ppl_position: perplexity against position on long text, through the CPU model runner.
//
// Cuts `--sequences` non-overlapping sequences of `--length` tokens from a JSON list of token
// ids (default: the Tiny Shakespeare validation ids), runs each as one fresh request with
// SequentialGenerator::PromptLogits (chunked prefill, `--chunk` tokens per step), scores token
// i (i >= 1) with the logits at position i - 1 (NLL over the full vocabulary, natural log), and
// averages the NLL per bucket of `--bucket` positions over all sequences. Appends one CSV row per
// bucket to `--csv` (header written when the file is new):
//   label,bucket_start,bucket_end,tokens,mean_nll,perplexity
// bucket_end is exclusive; position 0 is never scored, so the first bucket has one token less
// per sequence. `--restart N` runs every N tokens as a fresh request instead (N = 256 is the
// validation-perplexity protocol, the same text with at most the trained context): a baseline
// for how hard the text at each position is.
//
//   junction-bench ppl_position --model models/llama --label llama_full --csv out.csv
//   junction-bench ppl_position --model models/llama --mode window --sinks 4 --window 252
//       --label llama_window --csv out.csv
//
// Window mode is AttentionPolicy::kWindow (StreamingLLM: the first `--sinks` tokens plus the last
// `--window` positions, query included; positions follow the cache). It is fixed for the
// request, like in the engine.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "backends/cpu/cpu_backends.h"
#include "bench/bench_registry.h"
#include "engine/generation/sequential_generator.h"
#include "engine/model/model_config.h"
#include "engine/model/weight_store.h"
#include "nlohmann/json.hpp"

namespace junction::bench {
namespace {

struct PplOptions {
  std::string model;
  std::string ids = "tools/eval/tinyshakespeare_val_ids.json";
  std::string label;
  std::string csv;
  std::string mode = "full";
  int window = 252, sinks = 4;
  int length = 4096, sequences = 8, bucket = 128, chunk = 256, threads = 0, offset = 0;
  int restart = 0;  // > 0: a fresh request every `restart` tokens (the 256-token-window baseline)
};

bool ParsePplOptions(const std::vector<std::string>& args, PplOptions& o) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (i + 1 >= args.size()) {
      std::fprintf(stderr, "ppl_position: %s needs a value\n", flag.c_str());
      return false;
    }
    const std::string& value = args[++i];
    auto number = [&](int& out) {
      if (absl::SimpleAtoi(value, &out)) return true;
      std::fprintf(stderr, "ppl_position: %s wants a number, got '%s'\n", flag.c_str(),
                   value.c_str());
      return false;
    };
    bool ok = true;
    if (flag == "--model") o.model = value;
    else if (flag == "--ids") o.ids = value;
    else if (flag == "--label") o.label = value;
    else if (flag == "--csv") o.csv = value;
    else if (flag == "--mode") o.mode = value;
    else if (flag == "--window") ok = number(o.window);
    else if (flag == "--sinks") ok = number(o.sinks);
    else if (flag == "--length") ok = number(o.length);
    else if (flag == "--sequences") ok = number(o.sequences);
    else if (flag == "--bucket") ok = number(o.bucket);
    else if (flag == "--chunk") ok = number(o.chunk);
    else if (flag == "--threads") ok = number(o.threads);
    else if (flag == "--offset") ok = number(o.offset);
    else if (flag == "--restart") ok = number(o.restart);
    else {
      std::fprintf(stderr, "ppl_position: unknown flag %s\n", flag.c_str());
      return false;
    }
    if (!ok) return false;
  }
  if (o.model.empty()) {
    std::fprintf(stderr,
                 "usage: junction-bench ppl_position --model DIR [--mode full|window] "
                 "[--sinks 4] [--window 252] [--length 4096] [--sequences 8] [--bucket 128] "
                 "[--chunk 256] [--offset 0] [--restart 0] [--ids FILE] [--label NAME] [--csv FILE] "
                 "[--threads N]\n");
    return false;
  }
  if (o.mode != "full" && o.mode != "window") {
    std::fprintf(stderr, "ppl_position: --mode is full or window, got '%s'\n", o.mode.c_str());
    return false;
  }
  if (o.length < 2 || o.sequences < 1 || o.bucket < 1 || o.chunk < 0 || o.offset < 0 || o.restart < 0 ||
      (o.mode == "window" && (o.window < 1 || o.sinks < 0))) {
    std::fprintf(stderr, "ppl_position: bad --length/--sequences/--bucket/--chunk/--window\n");
    return false;
  }
  if (o.label.empty()) o.label = o.model + "_" + o.mode;
  return true;
}

}  // namespace

JUNCTION_BENCHMARK(ppl_position, "NLL/perplexity per position bucket on long text (CSV)") {
  PplOptions o;
  if (!ParsePplOptions(args, o)) return 2;

  std::vector<TokenId> ids;
  {
    std::ifstream in(o.ids);
    if (!in) {
      std::fprintf(stderr, "ppl_position: cannot read %s\n", o.ids.c_str());
      return 1;
    }
    const nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (!j.is_array()) {
      std::fprintf(stderr, "ppl_position: %s is not a JSON list of ids\n", o.ids.c_str());
      return 1;
    }
    for (const auto& v : j) ids.push_back(v.get<TokenId>());
  }
  const int64_t needed = static_cast<int64_t>(o.offset) + int64_t{o.sequences} * o.length;
  if (needed > static_cast<int64_t>(ids.size())) {
    std::fprintf(stderr, "ppl_position: %d x %d tokens from offset %d need %lld ids; %s has %zu\n",
                 o.sequences, o.length, o.offset, static_cast<long long>(needed), o.ids.c_str(),
                 ids.size());
    return 1;
  }

  auto spec = LoadModelSpec(o.model);
  if (!spec.ok()) {
    std::fprintf(stderr, "%s\n", spec.status().ToString().c_str());
    return 1;
  }
  auto weights = WeightStore::Open(o.model);
  if (!weights.ok()) {
    std::fprintf(stderr, "%s\n", weights.status().ToString().c_str());
    return 1;
  }
  cpu::SetCpuThreads(o.threads);
  BackendRegistry registry;
  cpu::RegisterCpuBackends(registry);
  cpu::CpuRunnerOptions runner_options;
  // One request at a time, the whole sequence in the cache (window mode reads only the visible
  // keys; nothing is released here, so memory is the full KV cache either way).
  runner_options.cache.block_size = 16;
  runner_options.cache.num_blocks = (o.length + 15) / 16 + 1;
  runner_options.cache.num_state_slots = 1;
  auto runner = cpu::CreateCpuModelRunner(*spec, std::move(*weights), registry, runner_options);
  if (!runner.ok()) {
    std::fprintf(stderr, "%s\n", runner.status().ToString().c_str());
    return 1;
  }

  SequentialOptions seq;
  seq.prefill_chunk = o.chunk;
  if (o.mode == "window") {
    seq.policy.mode = AttentionPolicy::Mode::kWindow;
    seq.policy.window = o.window;
    seq.policy.num_sinks = o.sinks;
  }
  const int vocab = spec->vocab_size;
  const int num_buckets = (o.length + o.bucket - 1) / o.bucket;
  std::vector<double> bucket_nll(num_buckets, 0.0);
  std::vector<int64_t> bucket_tokens(num_buckets, 0);
  double total_nll = 0;
  int64_t total_tokens = 0;

  SequentialGenerator generator(**runner);
  std::printf("ppl_position: %s (%s%s), %d sequences x %d tokens from offset %d, chunk %d\n",
              o.model.c_str(), o.mode.c_str(),
              o.mode == "window"
                  ? (" sinks " + std::to_string(o.sinks) + " + window " + std::to_string(o.window))
                        .c_str()
                  : "",
              o.sequences, o.length, o.offset, o.chunk);
  if (o.restart > 0) std::printf("a fresh request every %d tokens\n", o.restart);
  for (int s = 0; s < o.sequences; ++s) {
    const auto begin = ids.begin() + o.offset + static_cast<int64_t>(s) * o.length;
    const auto start = std::chrono::steady_clock::now();
    const int segment = o.restart > 0 ? o.restart : o.length;
    double seq_nll = 0;
    int64_t seq_tokens = 0;
    for (int first = 0; first < o.length; first += segment) {
      const int count = std::min(segment, o.length - first);
      const std::vector<TokenId> prompt(begin + first, begin + first + count);
      auto logits = generator.PromptLogits(prompt, seq);
      if (!logits.ok()) {
        std::fprintf(stderr, "%s\n", logits.status().ToString().c_str());
        return 1;
      }
      if (static_cast<int64_t>(logits->size()) != int64_t{count} * vocab) {
        std::fprintf(stderr, "ppl_position: got %zu logits, expected %d x %d\n", logits->size(),
                     count, vocab);
        return 1;
      }
      for (int i = 1; i < count; ++i) {
        const float* row = logits->data() + static_cast<int64_t>(i - 1) * vocab;
        double m = row[0];
        for (int v = 1; v < vocab; ++v) m = std::max(m, static_cast<double>(row[v]));
        double sum = 0;
        for (int v = 0; v < vocab; ++v) sum += std::exp(static_cast<double>(row[v]) - m);
        const double nll = m + std::log(sum) - static_cast<double>(row[prompt[i]]);
        if (!std::isfinite(nll)) {
          std::fprintf(stderr, "ppl_position: non-finite NLL at sequence %d position %d\n", s,
                       first + i);
          return 1;
        }
        const int b = (first + i) / o.bucket;
        bucket_nll[b] += nll;
        ++bucket_tokens[b];
        seq_nll += nll;
        ++seq_tokens;
      }
    }
    total_nll += seq_nll;
    total_tokens += seq_tokens;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("sequence %d: mean NLL %.5f (ppl %.2f), %.1f s (%.0f tokens/s)\n", s,
                seq_nll / seq_tokens, std::exp(seq_nll / seq_tokens), seconds,
                o.length / seconds);
    std::fflush(stdout);
  }

  std::FILE* csv = nullptr;
  if (!o.csv.empty()) {
    const bool fresh = !std::ifstream(o.csv).good();
    csv = std::fopen(o.csv.c_str(), "a");
    if (!csv) {
      std::fprintf(stderr, "ppl_position: cannot write %s\n", o.csv.c_str());
      return 1;
    }
    if (fresh) std::fprintf(csv, "label,bucket_start,bucket_end,tokens,mean_nll,perplexity\n");
  }
  std::printf("%-14s %8s %10s %10s\n", "positions", "tokens", "mean NLL", "perplexity");
  for (int b = 0; b < num_buckets; ++b) {
    if (bucket_tokens[b] == 0) continue;
    const int lo = b * o.bucket, hi = std::min(o.length, lo + o.bucket);
    const double mean = bucket_nll[b] / static_cast<double>(bucket_tokens[b]);
    std::printf("[%5d, %5d) %8lld %10.5f %10.3f\n", lo, hi,
                static_cast<long long>(bucket_tokens[b]), mean, std::exp(mean));
    if (csv)
      std::fprintf(csv, "%s,%d,%d,%lld,%.6f,%.4f\n", o.label.c_str(), lo, hi,
                   static_cast<long long>(bucket_tokens[b]), mean, std::exp(mean));
  }
  if (csv) std::fclose(csv);
  const double mean = total_nll / static_cast<double>(total_tokens);
  std::printf("all positions: %lld tokens, mean NLL %.5f, perplexity %.3f\n",
              static_cast<long long>(total_tokens), mean, std::exp(mean));
  return 0;
}

}  // namespace junction::bench
