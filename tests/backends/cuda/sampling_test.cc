// GPU sampling against a float64 reference of the host Sampler's filters (temperature -> top-k
// -> min-p -> top-p): the drawn token must be kept, and must be where the seeded uniform falls
// on the kept mass walked in vocabulary order.
#include "backends/cuda/kernels/sampling.h"

#include <algorithm>
#include <numeric>

#include "backends/cuda/cuda_context.h"
#include "tests/backends/cuda/cuda_test_util.h"

namespace junction::cuda::testing {
namespace {

// Kept tokens (vocabulary order) and their unnormalized probabilities.
std::vector<std::pair<int, double>> KeptSet(const float* logits, int vocab,
                                            const SampleRowParams& p) {
  std::vector<double> z(vocab);
  for (int i = 0; i < vocab; ++i) z[i] = double(logits[i]) / p.temperature;
  std::vector<int> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return z[a] > z[b]; });
  int keep = p.top_k > 0 ? std::min(p.top_k, vocab) : vocab;
  std::vector<double> probs(keep);
  double total = 0;
  for (int i = 0; i < keep; ++i) total += probs[i] = std::exp(z[order[i]] - z[order[0]]);
  if (p.min_p > 0)
    while (keep > 1 && probs[keep - 1] < p.min_p * probs[0]) total -= probs[--keep];
  if (p.top_p < 1) {
    double cumulative = 0;
    for (int i = 0; i < keep; ++i) {
      cumulative += probs[i] / total;
      if (cumulative >= p.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  std::vector<std::pair<int, double>> kept;
  for (int i = 0; i < keep; ++i) kept.push_back({order[i], probs[i]});
  std::sort(kept.begin(), kept.end());
  return kept;
}

TEST_CASE("gpu sampling: greedy, temperature, top-k, top-p, min-p, seeded",
          "[gpu][cuda][sampling]") {
  if (!HaveGpu()) return;
  std::mt19937 rng(5);
  auto cuda = CudaContext::Default();
  REQUIRE(cuda.ok());
  for (int vocab : {1, 3, 17, 1000, 32000, 151936}) {
    std::vector<SampleRowParams> rows;
    for (float t : {0.0f, 0.7f, 1.0f, 1.5f})
      for (int k : {0, 1, 5, 50})
        for (float top_p : {1.0f, 0.9f, 0.3f})
          for (float min_p : {0.0f, 0.05f}) {
            SampleRowParams p;
            p.temperature = t;
            p.top_k = k;
            p.top_p = top_p;
            p.min_p = min_p;
            p.seed = rng();
            p.offset = rows.size();
            rows.push_back(p);
          }
    const int num_rows = static_cast<int>(rows.size());
    const std::vector<float> logits = RandomVector(rng, size_t(num_rows) * vocab, 3.0f);
    DeviceBuffer logits_d = UploadRaw(logits), rows_d = UploadRaw(rows);
    auto ids_d = DeviceBuffer::Allocate(num_rows * 4);
    REQUIRE(ids_d.ok());
    REQUIRE(cudaMemset(ids_d->data(), 0xff, num_rows * 4) == cudaSuccess);
    REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
    LaunchSampling(
        {logits_d.as<float>(), rows_d.as<SampleRowParams>(), ids_d->as<int32_t>(), num_rows, vocab},
        (*cuda)->stream());
    REQUIRE(cudaGetLastError() == cudaSuccess);
    const std::vector<int32_t> ids = DownloadRaw<int32_t>(*ids_d, num_rows);
    for (int r = 0; r < num_rows; ++r) {
      const SampleRowParams& p = rows[r];
      const float* row = &logits[size_t(r) * vocab];
      INFO("vocab " << vocab << " T " << p.temperature << " k " << p.top_k << " p " << p.top_p
                    << " min_p " << p.min_p << " -> id " << ids[r]);
      REQUIRE(ids[r] >= 0);
      REQUIRE(ids[r] < vocab);
      if (p.temperature == 0) {
        CHECK(ids[r] == std::max_element(row, row + vocab) - row);
        continue;
      }
      const auto kept = KeptSet(row, vocab, p);
      double total = 0;
      for (const auto& [id, prob] : kept) total += prob;
      const double target = SamplingUniform(p.seed, p.offset) * total;
      double before = 0;
      bool found = false;
      for (const auto& [id, prob] : kept) {
        if (id == ids[r]) {
          found = true;
          // float32 accumulation on the device: allow a small slack at the interval's ends.
          const double slack = 1e-4 * total;
          CHECK(target >= before - slack);
          CHECK(target <= before + prob + slack);
          break;
        }
        before += prob;
      }
      CHECK(found);
    }
  }
}

}  // namespace
}  // namespace junction::cuda::testing
