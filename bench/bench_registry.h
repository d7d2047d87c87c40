// junction-bench: one executable, many named benchmarks. A benchmark file registers itself with
// JUNCTION_BENCHMARK(name, description) { ... return exit code; } and reads its own flags.
#pragma once

#include <string>
#include <vector>

namespace junction::bench {

using BenchmarkFn = int (*)(const std::vector<std::string>& args);

struct BenchmarkEntry {
  const char* name;
  const char* description;
  BenchmarkFn fn;
};

bool RegisterBenchmark(const char* name, const char* description, BenchmarkFn fn);
const std::vector<BenchmarkEntry>& Benchmarks();

}  // namespace junction::bench

#define JUNCTION_BENCHMARK(name, description)                                        \
  static int JunctionBench_##name(const std::vector<std::string>& args);             \
  static const bool junction_bench_registered_##name =                               \
      ::junction::bench::RegisterBenchmark(#name, description, &JunctionBench_##name); \
  static int JunctionBench_##name(const std::vector<std::string>& args)
