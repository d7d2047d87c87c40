// Decode's linear layers (Llama-3-8B shapes, 1-4 rows): our skinny kernel against cuBLASLt on
// the same problem in the same process, as weight bytes streamed per second against the device
// copy rate. Each shape rotates over enough weight copies (>= 256 MB) that no run finds its
// weights in the 50 MB L2.
#ifdef JUNCTION_WITH_CUDA
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "backends/cuda/gemm.h"
#include "bench/bench_registry.h"
#include "bench/cuda_bench_util.h"

namespace junction::cuda {
namespace {

struct Shape {
  const char* name;
  int n, k;
};

constexpr Shape kShapes[] = {{"qkv", 6144, 4096},       {"o_proj", 4096, 4096},
                             {"gate_up", 28672, 4096},  {"down", 4096, 14336},
                             {"lm_head", 128256, 4096}};

}  // namespace
}  // namespace junction::cuda

JUNCTION_BENCHMARK(cuda_gemm_decode,
                   "decode GEMMs (Llama-3-8B shapes, m = 1, 2, 4): skinny kernel vs cuBLASLt, "
                   "weight TB/s vs copy") {
  using namespace junction;
  using namespace junction::cuda;
  CudaContext* cuda = BenchContext();
  if (cuda == nullptr) return 1;
  FILE* out = OpenOut(args);
  char line[512];
  const double copy_tbps = CopyTbps(*cuda);
  if (copy_tbps < 0) return 1;
  std::snprintf(line, sizeof(line), "device %s copy_tbps=%.2f\n", cuda->device().name.c_str(),
                copy_tbps);
  Emit(out, line);
  for (const Shape& s : kShapes) {
    const size_t weight_bytes = size_t{2} * s.n * s.k;
    const int copies = static_cast<int>(std::max<size_t>(1, (size_t{256} << 20) / weight_bytes + 1));
    auto w = DeviceBuffer::Allocate(weight_bytes * copies);
    auto x = DeviceBuffer::Allocate(size_t{2} * 4 * s.k);
    auto y = DeviceBuffer::Allocate(size_t{4} * 4 * s.n);
    if (!w.ok() || !x.ok() || !y.ok()) return 1;
    if (!FillRandom(w->data(), weight_bytes / 2 * copies, 1) || !FillRandom(x->data(), 4 * s.k, 2))
      return 1;
    for (int m : {1, 2, 4}) {
      float ms[2] = {0, 0};
      for (int skinny = 0; skinny < 2; ++skinny) {
        int turn = 0;
        bool ok = true;
        ms[skinny] = MedianMs(
            *cuda,
            [&] {
              GemmArgs g{x->data(), static_cast<char*>(w->data()) + weight_bytes * (turn++ % copies),
                         y->data(), m, s.n, s.k, DType::kBF16, DType::kBF16};
              g.allow_skinny = skinny == 1;
              ok = ok && Gemm(*cuda, g).ok();
            },
            30);
        if (!ok) return 1;
      }
      const double skinny_tbps = weight_bytes / (ms[1] * 1e-3) / 1e12;
      const double lt_tbps = weight_bytes / (ms[0] * 1e-3) / 1e12;
      std::snprintf(line, sizeof(line),
                    "gemm %s m=%d n=%d k=%d skinny_us=%.1f cublaslt_us=%.1f speedup=%.2f "
                    "skinny_tbps=%.2f cublaslt_tbps=%.2f skinny/copy=%.2f\n",
                    s.name, m, s.n, s.k, ms[1] * 1e3, ms[0] * 1e3, ms[0] / ms[1], skinny_tbps,
                    lt_tbps, skinny_tbps / copy_tbps);
      Emit(out, line);
    }
  }
  return 0;
}

#endif  // JUNCTION_WITH_CUDA
