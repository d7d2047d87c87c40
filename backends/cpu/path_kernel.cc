#include "backends/cpu/path_kernel.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace junction::cpu {
namespace {

inline float Dot(const float* a, const float* b, int n) {
  float acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

// x <- x - coeff * w.
inline void SubtractScaled(float* x, const float* w, float coeff, int n) {
#pragma omp simd
  for (int i = 0; i < n; ++i) x[i] -= coeff * w[i];
}

// Running softmax-weighted sum of value rows (online: max, sum, accumulator).
class OnlineSoftmax {
 public:
  explicit OnlineSoftmax(int dim) : acc_(dim, 0.0f) {}
  void Add(float logit, const float* value) {
    const int d = static_cast<int>(acc_.size());
    if (logit > max_) {
      const float rescale = std::exp(max_ - logit);
      sum_ *= rescale;
      for (int i = 0; i < d; ++i) acc_[i] *= rescale;
      max_ = logit;
    }
    const float p = std::exp(logit - max_);
    sum_ += p;
#pragma omp simd
    for (int i = 0; i < d; ++i) acc_[i] += p * value[i];
  }
  void Write(float* out) const {
    for (size_t i = 0; i < acc_.size(); ++i) out[i] = acc_[i] / sum_;
  }

 private:
  float max_ = -std::numeric_limits<float>::infinity();
  float sum_ = 0;
  std::vector<float> acc_;
};

struct Dims {
  int t, h, hkv, d, group;
  explicit Dims(const PathCache& c, const PathChunk& chunk)
      : t(chunk.num_tokens),
        h(c.num_heads),
        hkv(c.num_kv_heads),
        d(c.head_dim),
        group(c.num_heads / c.num_kv_heads) {}
  int64_t Q(int i, int head) const { return (static_cast<int64_t>(i) * h + head) * d; }
  int64_t Kv(int i, int kv_head) const { return (static_cast<int64_t>(i) * hkv + kv_head) * d; }
};

// F of the chunk's tokens [T, H]: the cache's last F plus the running sum of log gates (zeros
// without the forget gate).
std::vector<float> ChunkForgetSums(const PathCache& cache, const PathChunk& chunk) {
  const int h = cache.num_heads;
  std::vector<float> f(static_cast<size_t>(chunk.num_tokens) * h, 0.0f);
  if (chunk.log_gate == nullptr) return f;
  std::vector<float> running(h, 0.0f);
  if (chunk.num_computed > 0)
    std::copy_n(cache.ForgetAt(chunk.block_table, chunk.num_computed - 1), h, running.data());
  for (int i = 0; i < chunk.num_tokens; ++i)
    for (int x = 0; x < h; ++x)
      f[static_cast<size_t>(i) * h + x] = running[x] += chunk.log_gate[i * h + x];
  return f;
}

// Cached F_j of query head `head` (0 without the forget gate).
inline float CachedForget(const PathCache& cache, const BlockId* table, int j, int head) {
  return cache.f ? cache.ForgetAt(table, j)[head] : 0.0f;
}

// Writes the chunk's values and F at their positions (keys are written by each method).
void StoreValuesAndForget(const PathCache& cache, const PathChunk& chunk,
                          const std::vector<float>& forget) {
  const Dims s(cache, chunk);
  for (int i = 0; i < s.t; ++i) {
    const int pos = chunk.num_computed + i;
    for (int g = 0; g < s.hkv; ++g)
      std::copy_n(chunk.v + s.Kv(i, g), s.d, cache.ValueAt(chunk.block_table, pos, g));
    if (cache.f)
      std::copy_n(&forget[static_cast<size_t>(i) * s.h], s.h,
                  cache.ForgetAt(chunk.block_table, pos));
  }
}

// Per kv head of an extend sub-chunk [t0, t0 + c): the lower-triangular UT transform
// T_beta = (I + strict_lower(diag(beta) W W^T))^-1 diag(beta) (forward substitution) and
// wk[a][j] = w_a . k_j for a > j, both [c, c].
struct SubChunk {
  std::vector<float> tb, wk;
};

SubChunk PrepareSubChunk(const PathChunk& chunk, const Dims& s, int g, int t0, int c) {
  SubChunk sub;
  sub.tb.assign(static_cast<size_t>(c) * c, 0.0f);
  sub.wk.assign(static_cast<size_t>(c) * c, 0.0f);
  for (int a = 0; a < c; ++a) {
    const float* wa = chunk.w + s.Kv(t0 + a, g);
    const float beta_a = chunk.beta[(t0 + a) * s.hkv + g];
    float* row = &sub.tb[static_cast<size_t>(a) * c];
    row[a] = beta_a;
    for (int b = 0; b < a; ++b) {
      sub.wk[static_cast<size_t>(a) * c + b] = Dot(wa, chunk.k + s.Kv(t0 + b, g), s.d);
      const float l = beta_a * Dot(wa, chunk.w + s.Kv(t0 + b, g), s.d);
      const float* other = &sub.tb[static_cast<size_t>(b) * c];
      for (int x = 0; x <= b; ++x) row[x] -= l * other[x];
    }
  }
  return sub;
}

// One query row of an extend sub-chunk: attends to the cache (positions < p0) with the carried
// query and to the sub-chunk's keys with the intra-chunk scores.
void ExtendQuery(const PathCache& cache, const PathChunk& chunk, const Dims& s, int head, int t0,
                 int c, int i, int p0, const SubChunk& sub, const std::vector<float>& forget,
                 float* out) {
  const int g = head / s.group;
  const int d = s.d;
  const float* q = chunk.q + s.Q(t0 + i, head);
  // y = tril(q W^T) T_beta restricted to row i: y_b = sum_{a = b..i} (q . w_a) T_beta[a][b].
  std::vector<float> qw(i + 1), y(i + 1, 0.0f);
  for (int a = 0; a <= i; ++a) qw[a] = Dot(q, chunk.w + s.Kv(t0 + a, g), d);
  for (int a = 0; a <= i; ++a)
    for (int b = 0; b <= a; ++b) y[b] += qw[a] * sub.tb[static_cast<size_t>(a) * c + b];
  std::vector<float> carried(q, q + d);
  for (int b = 0; b <= i; ++b) SubtractScaled(carried.data(), chunk.w + s.Kv(t0 + b, g), y[b], d);
  const float fi = forget[static_cast<size_t>(t0 + i) * s.h + head];
  OnlineSoftmax softmax(d);
  for (int j = 0; j < p0; ++j) {
    const float a = Dot(carried.data(), cache.KeyAt(chunk.block_table, j, g), d);
    const float fj = CachedForget(cache, chunk.block_table, j, head);
    softmax.Add(chunk.scale * (a + fi - fj), cache.ValueAt(chunk.block_table, j, g));
  }
  // Intra: q . k_j - sum_{b > j} y_b (w_b . k_j).
  for (int j = 0; j <= i; ++j) {
    const float* kj = chunk.k + s.Kv(t0 + j, g);
    float a = Dot(q, kj, d);
    for (int b = j + 1; b <= i; ++b) a -= y[b] * sub.wk[static_cast<size_t>(b) * c + j];
    const float fj = forget[static_cast<size_t>(t0 + j) * s.h + head];
    softmax.Add(chunk.scale * (a + fi - fj), chunk.v + s.Kv(t0 + j, g));
  }
  softmax.Write(out + s.Q(t0 + i, head));
}

// Applies the sub-chunk's transforms to the cached keys (< p0) of kv head g and appends its
// keys, each transformed by the later transforms of the sub-chunk.
void ExtendKeys(const PathCache& cache, const PathChunk& chunk, const Dims& s, int g, int t0, int c,
                int p0, const SubChunk& sub) {
  const int d = s.d;
#pragma omp parallel for schedule(static) if (p0 > 64)
  for (int j = 0; j < p0; ++j) {
    float* key = cache.KeyAt(chunk.block_table, j, g);
    std::vector<float> a(c), b(c, 0.0f);
    for (int x = 0; x < c; ++x) a[x] = Dot(chunk.w + s.Kv(t0 + x, g), key, d);
    for (int x = 0; x < c; ++x)
      for (int y = 0; y <= x; ++y) b[x] += sub.tb[static_cast<size_t>(x) * c + y] * a[y];
    for (int x = 0; x < c; ++x) SubtractScaled(key, chunk.w + s.Kv(t0 + x, g), b[x], d);
  }
  // k~_j = k_j - sum_b M[b][j] w_b, M = T_beta strict_lower(W K^T).
  for (int j = 0; j < c; ++j) {
    const float* kj = chunk.k + s.Kv(t0 + j, g);
    float* key = cache.KeyAt(chunk.block_table, p0 + j, g);
    std::copy_n(kj, d, key);
    for (int b = j + 1; b < c; ++b) {
      float m = 0;
      for (int a = j + 1; a <= b; ++a)
        m += sub.tb[static_cast<size_t>(b) * c + a] * sub.wk[static_cast<size_t>(a) * c + j];
      SubtractScaled(key, chunk.w + s.Kv(t0 + b, g), m, d);
    }
  }
}

}  // namespace

void PathPrefill(const PathCache& cache, const PathChunk& chunk, float* out) {
  const Dims s(cache, chunk);
  const std::vector<float> forget = ChunkForgetSums(cache, chunk);
  const int64_t num_queries = static_cast<int64_t>(s.h) * s.t;
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t task = 0; task < num_queries; ++task) {
    const int head = static_cast<int>(task / s.t);
    const int i = static_cast<int>(task % s.t);
    const int g = head / s.group;
    std::vector<float> q(chunk.q + s.Q(i, head), chunk.q + s.Q(i, head) + s.d);
    const float fi = forget[static_cast<size_t>(i) * s.h + head];
    OnlineSoftmax softmax(s.d);
    for (int j = i; j >= 0; --j) {
      const float a = Dot(q.data(), chunk.k + s.Kv(j, g), s.d);
      softmax.Add(chunk.scale * (a + fi - forget[static_cast<size_t>(j) * s.h + head]),
                  chunk.v + s.Kv(j, g));
      const float* w = chunk.w + s.Kv(j, g);
      if (j > 0)
        SubtractScaled(q.data(), w, chunk.beta[j * s.hkv + g] * Dot(q.data(), w, s.d), s.d);
    }
    softmax.Write(out + s.Q(i, head));
  }
  // Keys forward to the newest position: k~_j = H_{T-1} ... H_{j+1} k_j.
  const int64_t num_keys = static_cast<int64_t>(s.hkv) * s.t;
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t task = 0; task < num_keys; ++task) {
    const int g = static_cast<int>(task / s.t);
    const int j = static_cast<int>(task % s.t);
    float* key = cache.KeyAt(chunk.block_table, j, g);
    std::copy_n(chunk.k + s.Kv(j, g), s.d, key);
    for (int t = j + 1; t < s.t; ++t) {
      const float* w = chunk.w + s.Kv(t, g);
      SubtractScaled(key, w, chunk.beta[t * s.hkv + g] * Dot(key, w, s.d), s.d);
    }
  }
  StoreValuesAndForget(cache, chunk, forget);
}

void PathDecode(const PathCache& cache, const PathChunk& chunk, float* out) {
  const Dims s(cache, chunk);
  const int p = chunk.num_computed;
  const std::vector<float> forget = ChunkForgetSums(cache, chunk);
  // k~_j <- H_p k~_j for every cached key, then append k_p untransformed.
  const int64_t num_keys = static_cast<int64_t>(s.hkv) * p;
#pragma omp parallel for schedule(static) if (num_keys > 64)
  for (int64_t task = 0; task < num_keys; ++task) {
    const int g = static_cast<int>(task / p);
    float* key = cache.KeyAt(chunk.block_table, static_cast<int>(task % p), g);
    const float* w = chunk.w + s.Kv(0, g);
    SubtractScaled(key, w, chunk.beta[g] * Dot(key, w, s.d), s.d);
  }
  for (int g = 0; g < s.hkv; ++g)
    std::copy_n(chunk.k + s.Kv(0, g), s.d, cache.KeyAt(chunk.block_table, p, g));
  StoreValuesAndForget(cache, chunk, forget);
#pragma omp parallel for schedule(static) if (s.h > 1)
  for (int head = 0; head < s.h; ++head) {
    const int g = head / s.group;
    const float* q = chunk.q + s.Q(0, head);
    OnlineSoftmax softmax(s.d);
    for (int j = 0; j <= p; ++j) {
      const float a = Dot(q, cache.KeyAt(chunk.block_table, j, g), s.d);
      const float bias = forget[head] - CachedForget(cache, chunk.block_table, j, head);
      softmax.Add(chunk.scale * (a + bias), cache.ValueAt(chunk.block_table, j, g));
    }
    softmax.Write(out + s.Q(0, head));
  }
}

void PathExtend(const PathCache& cache, const PathChunk& chunk, float* out, int max_sub_chunk) {
  const Dims s(cache, chunk);
  const std::vector<float> forget = ChunkForgetSums(cache, chunk);
  // Values and F first: later sub-chunks read those of earlier ones from the cache.
  StoreValuesAndForget(cache, chunk, forget);
  max_sub_chunk = std::max(max_sub_chunk, 1);
  for (int t0 = 0; t0 < s.t; t0 += max_sub_chunk) {
    const int c = std::min(max_sub_chunk, s.t - t0);
    const int p0 = chunk.num_computed + t0;
    std::vector<SubChunk> sub(s.hkv);
    for (int g = 0; g < s.hkv; ++g) sub[g] = PrepareSubChunk(chunk, s, g, t0, c);
    // Every query of the sub-chunk reads the cache before its keys move.
    const int64_t num_queries = static_cast<int64_t>(s.h) * c;
#pragma omp parallel for schedule(dynamic, 2)
    for (int64_t task = 0; task < num_queries; ++task) {
      const int head = static_cast<int>(task / c);
      ExtendQuery(cache, chunk, s, head, t0, c, static_cast<int>(task % c), p0, sub[head / s.group],
                  forget, out);
    }
    for (int g = 0; g < s.hkv; ++g) ExtendKeys(cache, chunk, s, g, t0, c, p0, sub[g]);
  }
}

void PathAttend(const PathCache& cache, const PathChunk& chunk, float* out) {
  if (chunk.num_computed == 0) {
    PathPrefill(cache, chunk, out);
  } else if (chunk.num_tokens == 1) {
    PathDecode(cache, chunk, out);
  } else {
    PathExtend(cache, chunk, out, 64);
  }
}

}  // namespace junction::cpu
