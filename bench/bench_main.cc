// junction-bench NAME [args...]: runs one registered benchmark; with no name, lists them.
#include <cstdio>
#include <cstring>

#include "bench/bench_registry.h"

namespace junction::bench {

std::vector<BenchmarkEntry>& MutableBenchmarks() {
  static std::vector<BenchmarkEntry> entries;
  return entries;
}

bool RegisterBenchmark(const char* name, const char* description, BenchmarkFn fn) {
  MutableBenchmarks().push_back({name, description, fn});
  return true;
}

const std::vector<BenchmarkEntry>& Benchmarks() { return MutableBenchmarks(); }

}  // namespace junction::bench

int main(int argc, char** argv) {
  using junction::bench::Benchmarks;
  if (argc < 2 || !std::strcmp(argv[1], "--help")) {
    std::printf("usage: junction-bench NAME [args...]\nbenchmarks:\n");
    for (const auto& b : Benchmarks()) std::printf("  %-24s %s\n", b.name, b.description);
    return argc < 2 ? 2 : 0;
  }
  for (const auto& b : Benchmarks())
    if (!std::strcmp(b.name, argv[1])) return b.fn(std::vector<std::string>(argv + 2, argv + argc));
  std::fprintf(stderr, "junction-bench: unknown benchmark '%s'\n", argv[1]);
  return 2;
}
