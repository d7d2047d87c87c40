// PaTH attention on the GPU ("cuda.path") against a float64 reference that multiplies the
// Householder transforms explicitly: prefill, chunked continuation (extend), decode after
// prefill and mixed steps, several sequences of awkward lengths per step, GQA, with and without
// the forget gate. Outputs are poisoned before each step, the caches before the first one; after
// every step the cached keys (transformed to the newest position), values and forget sums are
// compared too. Then the whole fla PaTH fixtures against the CPU runner.
#include <algorithm>
#include <numeric>
#include <sstream>

#include "backends/cuda/cuda_context.h"
#include "backends/cuda/kernels/path_attention.h"
#include "backends/cuda/path_layer.h"
#include "tests/backends/cuda/cuda_test_util.h"
#include "tests/backends/cuda/fixture_check.h"

namespace junction::cuda::testing {
namespace {

struct PathProblem {
  int num_heads, num_kv_heads, head_dim, block_size;
  bool gate;
  int min_split_keys = 256;
  PathFinalizeImpl finalize = PathFinalizeImpl::kSuffix;
};

// Every token of one request, as the reference sees it.
struct Sequence {
  std::vector<float> q, k, v, w, beta, log_gate;  // per token: [H d], [Hkv d] x3, [Hkv], [H]
  std::vector<BlockId> blocks;
  int length = 0;
};

class PathSimulation {
 public:
  PathSimulation(const PathProblem& problem, const std::vector<int>& max_lengths, uint32_t seed)
      : pr_(problem), rng_(seed), seqs_(max_lengths.size()) {
    const int bs = pr_.block_size;
    for (int len : max_lengths) num_blocks_ += (len + bs - 1) / bs;
    num_blocks_ += 3;
    std::vector<int> physical(num_blocks_);
    std::iota(physical.begin(), physical.end(), 0);
    std::shuffle(physical.begin(), physical.end(), rng_);
    int next = 0;
    for (size_t s = 0; s < seqs_.size(); ++s)
      for (int b = 0; b < (max_lengths[s] + bs - 1) / bs; ++b)
        seqs_[s].blocks.push_back(BlockId(physical[next++]));
    const size_t positions = static_cast<size_t>(num_blocks_) * bs;
    k_cache_ = PoisonedHalf(positions * kv_dim());
    v_cache_ = PoisonedHalf(positions * kv_dim());
    auto f = DeviceBuffer::Allocate(positions * pr_.num_heads * sizeof(float));
    REQUIRE(f.ok());
    f_cache_ = std::move(*f);
    REQUIRE(cudaMemset(f_cache_.data(), 0xff, f_cache_.size_bytes()) == cudaSuccess);
    REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
  }

  // One step: for each (sequence, tokens) pair, fresh random tokens appended to the sequence.
  void Step(const std::vector<std::pair<int, int>>& work) {
    const int d = pr_.head_dim, hq = pr_.num_heads, hkv = pr_.num_kv_heads;
    std::ostringstream what;
    what << "heads " << hq << "/" << hkv << " d=" << d << " block=" << pr_.block_size
         << (pr_.gate ? " gate" : " no gate")
         << (pr_.finalize == PathFinalizeImpl::kCarry ? " carry" : " suffix") << " step:";
    StepBatch batch;
    for (const auto& [s, n] : work) {
      Sequence& seq = seqs_[s];
      what << " (" << n << " after " << seq.length << ")";
      ScheduledChunk c;
      c.first_token = batch.num_tokens();
      c.num_tokens = n;
      c.num_computed = seq.length;
      c.block_table = seq.blocks;
      batch.chunks.push_back(c);
      for (int t = 0; t < n; ++t) batch.token_ids.push_back(0);
      Append(seq, n);
    }
    INFO(what.str());
    const int num_tokens = batch.num_tokens();
    const int width = (hq + 2 * hkv) * d;
    std::vector<float> qkv(static_cast<size_t>(num_tokens) * width), w, beta, log_gate;
    for (size_t ci = 0; ci < work.size(); ++ci) {
      const Sequence& seq = seqs_[work[ci].first];
      const ScheduledChunk& c = batch.chunks[ci];
      for (int t = 0; t < c.num_tokens; ++t) {
        const int pos = c.num_computed + t;
        float* row = &qkv[static_cast<size_t>(c.first_token + t) * width];
        std::copy_n(&seq.q[static_cast<size_t>(pos) * hq * d], hq * d, row);
        std::copy_n(&seq.k[static_cast<size_t>(pos) * kv_dim()], kv_dim(), row + hq * d);
        std::copy_n(&seq.v[static_cast<size_t>(pos) * kv_dim()], kv_dim(), row + hq * d + kv_dim());
        w.insert(w.end(), &seq.w[static_cast<size_t>(pos) * kv_dim()],
                 &seq.w[static_cast<size_t>(pos + 1) * kv_dim()]);
        beta.insert(beta.end(), &seq.beta[pos * hkv], &seq.beta[(pos + 1) * hkv]);
        log_gate.insert(log_gate.end(), &seq.log_gate[pos * hq], &seq.log_gate[(pos + 1) * hq]);
      }
    }
    DeviceBuffer qkv_dev = UploadHalf(qkv, DType::kBF16);
    DeviceBuffer w_dev = UploadRaw(w), beta_dev = UploadRaw(beta), lg_dev = UploadRaw(log_gate);
    DeviceBuffer forget_dev = UploadRaw(std::vector<float>(log_gate.size(), 0.0f));
    DeviceBuffer o_dev = PoisonedHalf(static_cast<size_t>(num_tokens) * hq * d);

    auto cuda = CudaContext::Default();
    REQUIRE(cuda.ok());
    PathPlanConfig config;
    config.num_heads = hq;
    config.num_kv_heads = hkv;
    config.head_dim = d;
    config.block_size = pr_.block_size;
    config.num_blocks = num_blocks_;
    config.num_sms = (*cuda)->num_sms();
    config.min_split_keys = pr_.min_split_keys;
    REQUIRE(plan_.Build(batch, config, (*cuda)->stream()).ok());
    PathParams p = plan_.Params();
    p.qkv = qkv_dev.data();
    p.qkv_stride = width;
    p.w = w_dev.as<float>();
    p.beta = beta_dev.as<float>();
    p.log_gate = pr_.gate ? lg_dev.as<float>() : nullptr;
    p.forget = pr_.gate ? forget_dev.as<float>() : nullptr;
    p.o = o_dev.data();
    p.k_cache = k_cache_.data();
    p.v_cache = v_cache_.data();
    p.f_cache = pr_.gate ? f_cache_.as<float>() : nullptr;
    p.scale = 1.0f / std::sqrt(static_cast<float>(d));
    LaunchPathAttention(p, (*cuda)->stream(), pr_.finalize);
    REQUIRE(cudaGetLastError() == cudaSuccess);
    REQUIRE((*cuda)->SynchronizeStream().ok());

    const std::vector<float> out =
        DownloadHalf(o_dev, static_cast<size_t>(num_tokens) * hq * d, DType::kBF16);
    std::vector<double> ref(out.size(), 0.0);
    for (size_t ci = 0; ci < work.size(); ++ci) {
      const ScheduledChunk& c = batch.chunks[ci];
      for (int t = 0; t < c.num_tokens; ++t)
        for (int h = 0; h < hq; ++h)
          ReferenceOutput(seqs_[work[ci].first], c.num_computed + t, h,
                          &ref[(static_cast<size_t>(c.first_token + t) * hq + h) * d]);
    }
    const ErrorStats stats = Compare(out, ref);
    INFO("output relative L2 " << stats.relative_l2 << ", max |diff| " << stats.max_abs);
    CHECK_FALSE(stats.has_nan);
    CHECK(stats.relative_l2 <= 1e-2);
    const double key_error = CheckCaches(work);
    WARN(what.str() << ": output rel L2 " << stats.relative_l2 << ", cached keys rel L2 "
                    << key_error);
  }

  int kv_dim() const { return pr_.num_kv_heads * pr_.head_dim; }

 private:
  void Append(Sequence& seq, int n) {
    const int d = pr_.head_dim, hq = pr_.num_heads, hkv = pr_.num_kv_heads;
    auto append = [&](std::vector<float>& dst, const std::vector<float>& src) {
      dst.insert(dst.end(), src.begin(), src.end());
    };
    append(seq.q, RoundToHalf(RandomVector(rng_, static_cast<size_t>(n) * hq * d), DType::kBF16));
    append(seq.k, RoundToHalf(RandomVector(rng_, static_cast<size_t>(n) * hkv * d), DType::kBF16));
    append(seq.v, RoundToHalf(RandomVector(rng_, static_cast<size_t>(n) * hkv * d), DType::kBF16));
    std::vector<float> w = RandomVector(rng_, static_cast<size_t>(n) * hkv * d);
    for (size_t r = 0; r < w.size(); r += d) {
      double norm = 0;
      for (int i = 0; i < d; ++i) norm += double(w[r + i]) * w[r + i];
      for (int i = 0; i < d; ++i) w[r + i] = static_cast<float>(w[r + i] / std::sqrt(norm));
    }
    append(seq.w, w);
    std::uniform_real_distribution<float> beta(0.05f, 1.95f);
    for (int i = 0; i < n * hkv; ++i) seq.beta.push_back(beta(rng_));
    std::normal_distribution<float> logit(3.0f, 1.5f);
    for (int i = 0; i < n * hq; ++i)
      seq.log_gate.push_back(-std::log1p(std::exp(-logit(rng_))));  // logsigmoid
    seq.length += n;
  }

  double Forget(const Sequence& seq, int pos, int head) const {
    if (!pr_.gate) return 0.0;
    double f = 0;
    for (int t = 0; t <= pos; ++t) f += seq.log_gate[t * pr_.num_heads + head];
    return f;
  }

  // x <- H_t x = x - beta_t (x . w_t) w_t.
  void ApplyTransform(const Sequence& seq, int t, int g, std::vector<double>& x) const {
    const int d = pr_.head_dim;
    const float* w = &seq.w[(static_cast<size_t>(t) * pr_.num_kv_heads + g) * d];
    double dot = 0;
    for (int i = 0; i < d; ++i) dot += x[i] * w[i];
    const double coeff = seq.beta[t * pr_.num_kv_heads + g] * dot;
    for (int i = 0; i < d; ++i) x[i] -= coeff * w[i];
  }

  void ReferenceOutput(const Sequence& seq, int pos, int head, double* out) const {
    const int d = pr_.head_dim, g = head / (pr_.num_heads / pr_.num_kv_heads);
    const double scale = 1.0 / std::sqrt(static_cast<double>(d));
    std::vector<double> x(
        seq.q.begin() + (static_cast<size_t>(pos) * pr_.num_heads + head) * d,
        seq.q.begin() + (static_cast<size_t>(pos) * pr_.num_heads + head + 1) * d);
    const double fi = Forget(seq, pos, head);
    std::vector<double> logits(pos + 1);
    double fj = fi, mx = -1e300;
    for (int j = pos; j >= 0; --j) {
      const float* k = &seq.k[(static_cast<size_t>(j) * pr_.num_kv_heads + g) * d];
      double dot = 0;
      for (int i = 0; i < d; ++i) dot += x[i] * k[i];
      logits[j] = scale * (dot + fi - fj);
      mx = std::max(mx, logits[j]);
      if (pr_.gate) fj -= seq.log_gate[j * pr_.num_heads + head];
      if (j > 0) ApplyTransform(seq, j, g, x);
    }
    double sum = 0;
    for (double& l : logits) sum += l = std::exp(l - mx);
    for (int j = 0; j <= pos; ++j) {
      const float* v = &seq.v[(static_cast<size_t>(j) * pr_.num_kv_heads + g) * d];
      for (int i = 0; i < d; ++i) out[i] += logits[j] / sum * v[i];
    }
  }

  // Cached keys H_{n-1} ... H_{j+1} k_j, values and F of every sequence of the step.
  // Returns the keys' relative L2 error.
  double CheckCaches(const std::vector<std::pair<int, int>>& work) {
    const int d = pr_.head_dim, hq = pr_.num_heads, hkv = pr_.num_kv_heads, bs = pr_.block_size;
    const size_t positions = static_cast<size_t>(num_blocks_) * bs;
    const std::vector<float> k = DownloadHalf(k_cache_, positions * kv_dim(), DType::kBF16);
    const std::vector<float> v = DownloadHalf(v_cache_, positions * kv_dim(), DType::kBF16);
    const std::vector<float> f = DownloadRaw<float>(f_cache_, positions * hq);
    std::vector<float> got_k, got_v, got_f;
    std::vector<double> want_k, want_v, want_f;
    for (const auto& [s, n] : work) {
      const Sequence& seq = seqs_[s];
      for (int j = 0; j < seq.length; ++j) {
        const size_t row = static_cast<size_t>(seq.blocks[j / bs].value) * bs + j % bs;
        for (int g = 0; g < hkv; ++g) {
          std::vector<double> x(&seq.k[(static_cast<size_t>(j) * hkv + g) * d],
                                &seq.k[(static_cast<size_t>(j) * hkv + g + 1) * d]);
          for (int t = j + 1; t < seq.length; ++t) ApplyTransform(seq, t, g, x);
          want_k.insert(want_k.end(), x.begin(), x.end());
          got_k.insert(got_k.end(), &k[(row * hkv + g) * d], &k[(row * hkv + g + 1) * d]);
          want_v.insert(want_v.end(), &seq.v[(static_cast<size_t>(j) * hkv + g) * d],
                        &seq.v[(static_cast<size_t>(j) * hkv + g + 1) * d]);
          got_v.insert(got_v.end(), &v[(row * hkv + g) * d], &v[(row * hkv + g + 1) * d]);
        }
        if (pr_.gate)
          for (int h = 0; h < hq; ++h) {
            want_f.push_back(Forget(seq, j, h));
            got_f.push_back(f[row * hq + h]);
          }
      }
    }
    const ErrorStats ks = Compare(got_k, want_k), vs = Compare(got_v, want_v);
    INFO("cached keys relative L2 " << ks.relative_l2 << ", values " << vs.relative_l2);
    CHECK_FALSE(ks.has_nan);
    CHECK(ks.relative_l2 <= 1e-2);
    CHECK(vs.relative_l2 == 0.0);
    if (pr_.gate) {
      const ErrorStats fs = Compare(got_f, want_f);
      INFO("cached forget sums relative L2 " << fs.relative_l2);
      CHECK(fs.relative_l2 <= 1e-5);
    }
    return ks.relative_l2;
  }

  PathProblem pr_;
  std::mt19937 rng_;
  std::vector<Sequence> seqs_;
  int num_blocks_ = 0;
  DeviceBuffer k_cache_, v_cache_, f_cache_;
  PathPlan plan_;
};

constexpr PathFinalizeImpl kFinalizeImpls[] = {PathFinalizeImpl::kSuffix, PathFinalizeImpl::kCarry};

TEST_CASE("path prefill, extend and decode match float64", "[gpu][cuda][path]") {
  if (!HaveGpu()) return;
  for (PathFinalizeImpl finalize : kFinalizeImpls)
    for (bool gate : {true, false}) {
      PathSimulation sim({4, 2, 64, 16, gate, 256, finalize},
                         {1 + 7 + 4, 17 + 65 + 4, 64 + 1 + 3 + 3, 130 + 200 + 3 + 64},
                         gate ? 11 : 12);
      sim.Step({{0, 1}, {1, 17}, {2, 64}, {3, 130}});  // prefill
      sim.Step({{0, 7}, {1, 65}, {2, 1}, {3, 200}});   // extend + one decode
      for (int i = 0; i < 3; ++i) sim.Step({{0, 1}, {1, 1}, {2, 1}, {3, 1}});  // decode
      sim.Step({{3, 64}, {2, 3}});                                             // extend again
    }
}

// 1000 tokens are 16 UT blocks: the suffix products run 16 blocks deep.
TEST_CASE("path head_dim 128, long prefill and split decode match float64", "[gpu][cuda][path]") {
  if (!HaveGpu()) return;
  for (PathFinalizeImpl finalize : kFinalizeImpls) {
    PathSimulation sim({2, 2, 128, 32, false, 256, finalize}, {1000 + 2 + 3 + 200, 129 + 2 + 3},
                       21);
    sim.Step({{0, 1000}, {1, 129}});
    sim.Step({{0, 1}, {1, 1}});
    sim.Step({{0, 1}, {1, 1}});
    sim.Step({{0, 3}, {1, 3}});
    sim.Step({{0, 200}});  // extend: 16 cache tiles through Q_0 of a 4-block chunk
  }
}

TEST_CASE("path GQA group 8 with the gate and small decode splits", "[gpu][cuda][path]") {
  if (!HaveGpu()) return;
  PathSimulation sim({8, 1, 64, 16, true, 64}, {300 + 2 + 66, 5 + 2 + 66}, 31);
  sim.Step({{0, 300}, {1, 5}});
  sim.Step({{0, 1}, {1, 1}});
  sim.Step({{0, 1}, {1, 66}});
  sim.Step({{0, 66}, {1, 1}});
}

// The tensor-core decode at d=128 with query groups that do not fill its 8 query rows (3) and
// the benchmark's (4); 64-key splits, so a context of 256 + 1 ends in a split holding only the
// new key, and a context of 64 in a single unsplit tile. The extend after the decodes reads the
// keys the decodes rewrote; the block prep sees 256 = 4 full UT blocks, 63 and 70 tokens.
TEST_CASE("path tensor-core decode, groups 3 and 4 at d=128, split on the new key",
          "[gpu][cuda][path]") {
  if (!HaveGpu()) return;
  for (int group : {3, 4}) {
    PathSimulation sim({2 * group, 2, 128, 16, true, 64}, {256 + 4, 63 + 2, 1 + 3 + 70},
                       40 + group);
    sim.Step({{0, 256}, {1, 63}, {2, 1}});  // prefill
    sim.Step({{0, 1}, {1, 1}, {2, 1}});     // decode: contexts 257, 64, 2
    sim.Step({{0, 1}, {1, 1}, {2, 1}});
    sim.Step({{2, 70}, {0, 1}});  // extend after decodes, beside a decode
    sim.Step({{0, 1}, {2, 1}});
  }
}

const BackendRegistry& PathRegistry() { return CudaRegistry(); }

TEST_CASE("cuda.path runs fla_path_fox (forget gate) like the CPU", "[gpu][cuda][path]") {
  if (!HaveGpu()) return;
  CheckModelOnGpu("fla_path_fox", {{MixerKind::kPath, "cuda.path"}}, PathRegistry());
}

TEST_CASE("cuda.path runs fla_path_nogate like the CPU", "[gpu][cuda][path]") {
  if (!HaveGpu()) return;
  CheckModelOnGpu("fla_path_nogate", {{MixerKind::kPath, "cuda.path"}}, PathRegistry());
}

}  // namespace
}  // namespace junction::cuda::testing
