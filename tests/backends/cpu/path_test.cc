// The CPU PaTH kernel (prefill by carrying queries, decode by rank-one key updates, multi-token
// continuation by the UT "extend" recipe) against the float64 reference with explicit Householder
// products: random inputs, beta in (0, 2), with and without the forget gate, GQA, lengths and
// splits crossing KV-block and 64-token sub-chunk boundaries, shuffled block tables.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <numeric>
#include <random>
#include <sstream>

#include "backends/cpu/path_kernel.h"
#include "tests/reference/path_reference.h"

namespace junction::cpu {
namespace {

using reference::PathProblem;

struct Case {
  int num_tokens, h, hkv, d;
  bool forget_gate;
  int block_size;
  std::string Describe() const {
    std::ostringstream s;
    s << "T=" << num_tokens << " H=" << h << " Hkv=" << hkv << " d=" << d << " gate=" << forget_gate
      << " block=" << block_size;
    return s.str();
  }
};

PathProblem RandomProblem(const Case& c, std::mt19937& rng) {
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> beta(0.01, 1.99);
  PathProblem p;
  p.num_tokens = c.num_tokens;
  p.num_heads = c.h;
  p.num_kv_heads = c.hkv;
  p.head_dim = c.d;
  p.scale = 1.0 / std::sqrt(static_cast<double>(c.d));
  p.q.resize(static_cast<size_t>(c.num_tokens) * c.h * c.d);
  for (double& x : p.q) x = normal(rng);
  for (auto* v : {&p.k, &p.v, &p.w}) {
    v->resize(static_cast<size_t>(c.num_tokens) * c.hkv * c.d);
    for (double& x : *v) x = normal(rng);
  }
  for (size_t row = 0; row < p.w.size(); row += c.d) {
    double sum = 0;
    for (int i = 0; i < c.d; ++i) sum += p.w[row + i] * p.w[row + i];
    for (int i = 0; i < c.d; ++i) p.w[row + i] /= std::sqrt(sum);
  }
  p.beta.resize(static_cast<size_t>(c.num_tokens) * c.hkv);
  for (double& x : p.beta) x = beta(rng);
  if (c.forget_gate) {
    p.log_gate.resize(static_cast<size_t>(c.num_tokens) * c.h);
    for (double& x : p.log_gate) {
      const double z = 1.5 + normal(rng);
      x = -std::log1p(std::exp(-z));  // logsigmoid
    }
  }
  return p;
}

std::vector<float> ToFloat(const std::vector<double>& v) { return {v.begin(), v.end()}; }

// A cache of float32 storage with a shuffled block table, as the engine would hand out.
struct TestCache {
  std::vector<float> k, v, f;
  std::vector<BlockId> table;
  PathCache cache;
  TestCache(const Case& c, std::mt19937& rng) {
    const int num_blocks = (c.num_tokens + c.block_size - 1) / c.block_size + 3;
    std::vector<int> ids(num_blocks);
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), rng);
    for (int id : ids) table.push_back(BlockId(id));
    const size_t positions = static_cast<size_t>(num_blocks) * c.block_size;
    k.assign(positions * c.hkv * c.d, NAN);
    v.assign(k.size(), NAN);
    f.assign(positions * c.h, NAN);
    cache = PathCache{k.data(), v.data(), c.forget_gate ? f.data() : nullptr, c.block_size, c.h,
                      c.hkv,    c.d};
  }
};

enum class Method { kAuto, kExtendSmallSubChunks };

// Runs the kernel over `parts` (token counts summing to T) in order; returns o [T, H, d].
std::vector<float> RunCpu(const PathProblem& p, const Case& c, const std::vector<int>& parts,
                          Method method, std::mt19937& rng) {
  const std::vector<float> q = ToFloat(p.q), k = ToFloat(p.k), v = ToFloat(p.v), w = ToFloat(p.w),
                           beta = ToFloat(p.beta), gate = ToFloat(p.log_gate);
  TestCache storage(c, rng);
  std::vector<float> out(q.size(), NAN);
  int t0 = 0;
  for (int n : parts) {
    PathChunk chunk;
    chunk.num_tokens = n;
    chunk.num_computed = t0;
    chunk.block_table = storage.table.data();
    chunk.q = &q[static_cast<size_t>(t0) * c.h * c.d];
    chunk.k = &k[static_cast<size_t>(t0) * c.hkv * c.d];
    chunk.v = &v[static_cast<size_t>(t0) * c.hkv * c.d];
    chunk.w = &w[static_cast<size_t>(t0) * c.hkv * c.d];
    chunk.beta = &beta[static_cast<size_t>(t0) * c.hkv];
    chunk.log_gate = c.forget_gate ? &gate[static_cast<size_t>(t0) * c.h] : nullptr;
    chunk.scale = static_cast<float>(p.scale);
    float* o = &out[static_cast<size_t>(t0) * c.h * c.d];
    if (method == Method::kExtendSmallSubChunks && t0 > 0) {
      PathExtend(storage.cache, chunk, o, 7);
    } else {
      PathAttend(storage.cache, chunk, o);
    }
    t0 += n;
  }
  return out;
}

void CheckClose(const std::string& what, const std::vector<float>& got,
                const std::vector<double>& want) {
  INFO(what);
  REQUIRE(got.size() == want.size());
  double num = 0, den = 0;
  bool finite = true;
  for (size_t i = 0; i < want.size(); ++i) {
    finite = finite && std::isfinite(got[i]);
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  CHECK(finite);
  const double err = std::sqrt(num / den);
  INFO("relative L2 error " << err);
  CHECK(err <= 1e-5);
}

TEST_CASE("PaTH kernel matches the float64 Householder reference", "[path]") {
  std::mt19937 rng(11);
  const std::vector<Case> cases = {
      {1, 1, 1, 8, false, 16},  {3, 2, 1, 8, true, 16},    {17, 2, 2, 16, false, 16},
      {17, 4, 2, 8, true, 5},   {65, 2, 1, 16, true, 16},  {70, 3, 3, 8, false, 16},
      {129, 4, 2, 8, true, 16}, {140, 2, 1, 16, false, 7}, {40, 2, 2, 32, true, 16},
  };
  for (const Case& c : cases) {
    const PathProblem p = RandomProblem(c, rng);
    const std::vector<double> want = reference::PathAttentionReference(p);
    const int t = c.num_tokens;
    CheckClose(c.Describe() + ", prefill", RunCpu(p, c, {t}, Method::kAuto, rng), want);
    if (t < 3) continue;
    // Prefill a third, then decode every token.
    std::vector<int> decode_parts = {t / 3};
    for (int i = t / 3; i < t; ++i) decode_parts.push_back(1);
    CheckClose(c.Describe() + ", prefill + decode", RunCpu(p, c, decode_parts, Method::kAuto, rng),
               want);
    // Prefill in chunks of 16 (extend on top of the cache), and a ragged mix.
    std::vector<int> chunks;
    for (int done = 0; done < t; done += 16) chunks.push_back(std::min(16, t - done));
    CheckClose(c.Describe() + ", chunks of 16", RunCpu(p, c, chunks, Method::kAuto, rng), want);
    const int first = std::max(1, t / 4), rest = t - first - 2;
    if (rest > 0) {
      const std::vector<int> mixed = {first, 1, 1, rest};
      CheckClose(c.Describe() + ", prefill + decode + extend",
                 RunCpu(p, c, mixed, Method::kAuto, rng), want);
      CheckClose(c.Describe() + ", extend in sub-chunks of 7",
                 RunCpu(p, c, mixed, Method::kExtendSmallSubChunks, rng), want);
    }
  }
}

TEST_CASE("PaTH extend crosses its 64-token sub-chunks", "[path]") {
  std::mt19937 rng(5);
  const Case c{150, 2, 1, 8, true, 16};
  const PathProblem p = RandomProblem(c, rng);
  const std::vector<double> want = reference::PathAttentionReference(p);
  CheckClose(c.Describe() + ", 10 then 140", RunCpu(p, c, {10, 140}, Method::kAuto, rng), want);
}

}  // namespace
}  // namespace junction::cpu
