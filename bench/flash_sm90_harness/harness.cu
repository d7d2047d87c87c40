// Scratch harness for the Hopper prefill kernel (not part of the build): wgmma layout probes,
// correctness of every variant against a float64 reference (windows, sinks, released blocks,
// GQA, d = 64/128, bf16/fp16), and timings at the benchmark shapes next to the mma.sync kernel.
// Built by build.sh with nvcc directly; includes the kernel source.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "backends/cuda/kernels/flash_prefill_sm90.cu"

using namespace junction;
using namespace junction::cuda;

#define CK(x)                                                                              \
  do {                                                                                     \
    cudaError_t e_ = (x);                                                                  \
    if (e_ != cudaSuccess) {                                                               \
      std::printf("CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__); \
      std::exit(1);                                                                        \
    }                                                                                      \
  } while (0)

static uint16_t ToHalfBits(float f, DType t) {
  if (t == DType::kBF16) return FloatToBF16(f);
  __half h = __float2half(f);
  uint16_t b;
  std::memcpy(&b, &h, 2);
  return b;
}
static float FromHalfBits(uint16_t b, DType t) {
  if (t == DType::kBF16) return BF16ToFloat(b);
  __half h;
  std::memcpy(&h, &b, 2);
  return __half2float(h);
}

// ---------------------------------------------------------------- wgmma layout probes
// S[64][128] = A[64][128] . B[128][128]^T with both operands swizzled K-major; and
// O[64][N] = P[64][128] . V[128][N] with P from registers and V swizzled MN-major
// (descriptor leading/stride bytes given, to tell the encodings apart).
template <int N>
__global__ void ProbePV(const __nv_bfloat16* p, const __nv_bfloat16* vsrc, float* out, uint32_t lbo,
                        uint32_t sbo) {
#ifdef JUNCTION_SM90A
  __shared__ __align__(1024) __nv_bfloat16 sv[128 * N];
  const int tid = threadIdx.x;
  for (int i = tid; i < 128 * N / 8; i += 128) {
    const int r = i / (N / 8), c = i % (N / 8);
    *reinterpret_cast<uint4*>(reinterpret_cast<char*>(sv) + sm90::SwizzledOffset(128, r, c)) =
        *reinterpret_cast<const uint4*>(vsrc + r * N + c * 8);
  }
  sm90::FenceProxyAsync();
  __syncthreads();
  const int warp = tid / 32, lane = tid % 32;
  float o[N / 2];
  for (int i = 0; i < N / 2; ++i) o[i] = 0.0f;
  uint32_t a[8][4];
  const int r0 = 16 * warp + lane / 4;
  for (int kc = 0; kc < 8; ++kc)
    for (int i = 0; i < 4; ++i) {
      const int row = r0 + 8 * (i & 1), col = 16 * kc + 8 * (i >> 1) + 2 * (lane % 4);
      a[kc][i] = *reinterpret_cast<const uint32_t*>(p + row * 128 + col);
    }
  const uint32_t base = SmemAddr(sv);
  sm90::WgmmaFence();
  for (int kc = 0; kc < 8; ++kc)
    sm90::Wgmma<__nv_bfloat16, N>::RS(o, a[kc], sm90::SmemDesc(base + kc * 2048, lbo, sbo), true);
  sm90::WgmmaCommit();
  sm90::WgmmaWait<0>();
  sm90::FenceRegisters(o);
  for (int j = 0; j < N / 8; ++j)
    for (int e = 0; e < 4; ++e)
      out[(r0 + 8 * (e >> 1)) * N + 8 * j + 2 * (lane % 4) + (e & 1)] = o[4 * j + e];
#endif
}

__global__ void ProbeQK(const __nv_bfloat16* asrc, const __nv_bfloat16* bsrc, float* out) {
#ifdef JUNCTION_SM90A
  __shared__ __align__(1024) __nv_bfloat16 sa[64 * 128];
  __shared__ __align__(1024) __nv_bfloat16 sb[128 * 128];
  const int tid = threadIdx.x;
  for (int i = tid; i < 64 * 16; i += 128) {
    const int r = i / 16, c = i % 16;
    *reinterpret_cast<uint4*>(reinterpret_cast<char*>(sa) + sm90::SwizzledOffset(64, r, c)) =
        *reinterpret_cast<const uint4*>(asrc + r * 128 + c * 8);
  }
  for (int i = tid; i < 128 * 16; i += 128) {
    const int r = i / 16, c = i % 16;
    *reinterpret_cast<uint4*>(reinterpret_cast<char*>(sb) + sm90::SwizzledOffset(128, r, c)) =
        *reinterpret_cast<const uint4*>(bsrc + r * 128 + c * 8);
  }
  sm90::FenceProxyAsync();
  __syncthreads();
  float s[64];
  const uint32_t a = SmemAddr(sa), b = SmemAddr(sb);
  sm90::WgmmaFence();
  for (int kk = 0; kk < 8; ++kk)
    sm90::Wgmma<__nv_bfloat16, 128>::SS(
        s, sm90::SmemDesc(a + (kk / 4) * 64 * 128 + (kk % 4) * 32, 16, 1024),
        sm90::SmemDesc(b + (kk / 4) * 128 * 128 + (kk % 4) * 32, 16, 1024), kk > 0);
  sm90::WgmmaCommit();
  sm90::WgmmaWait<0>();
  sm90::FenceRegisters(s);
  const int warp = tid / 32, lane = tid % 32, r0 = 16 * warp + lane / 4;
  for (int j = 0; j < 16; ++j)
    for (int e = 0; e < 4; ++e)
      out[(r0 + 8 * (e >> 1)) * 128 + 8 * j + 2 * (lane % 4) + (e & 1)] = s[4 * j + e];
#endif
}

static double RelErr(const std::vector<float>& got, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = got[i] - ref[i];
    if (std::isnan(got[i])) return INFINITY;
    num += d * d;
    den += ref[i] * ref[i];
  }
  return std::sqrt(num / std::max(den, 1e-300));
}

static void Probes(std::mt19937& rng) {
  std::normal_distribution<float> nd;
  auto make = [&](int n, std::vector<float>& f) {
    std::vector<uint16_t> h(n);
    f.resize(n);
    for (int i = 0; i < n; ++i) {
      h[i] = FloatToBF16(nd(rng));
      f[i] = BF16ToFloat(h[i]);
    }
    void* d;
    CK(cudaMalloc(&d, n * 2));
    CK(cudaMemcpy(d, h.data(), n * 2, cudaMemcpyHostToDevice));
    return static_cast<__nv_bfloat16*>(d);
  };
  std::vector<float> a, b;
  __nv_bfloat16* da = make(64 * 128, a);
  __nv_bfloat16* db = make(128 * 128, b);
  float* dout;
  CK(cudaMalloc(&dout, 64 * 128 * 4));
  {
    CK(cudaMemset(dout, 0xff, 64 * 128 * 4));
    ProbeQK<<<1, 128>>>(da, db, dout);
    CK(cudaGetLastError());
    std::vector<float> got(64 * 128);
    CK(cudaMemcpy(got.data(), dout, got.size() * 4, cudaMemcpyDeviceToHost));
    std::vector<double> ref(64 * 128);
    for (int i = 0; i < 64; ++i)
      for (int j = 0; j < 128; ++j) {
        double acc = 0;
        for (int k = 0; k < 128; ++k) acc += double(a[i * 128 + k]) * b[j * 128 + k];
        ref[i * 128 + j] = acc;
      }
    std::printf("probe QK (SS, K-major, n128): rel err %.3g\n", RelErr(got, ref));
  }
  // P = a as [64][128 keys]; V = b as [128 keys][N].
  for (int n : {128, 64}) {
    {
      // Leading = between 64-column blocks of V, stride = between 8-key groups (seen right on
      // the H100, 2026-12-06; the swapped encoding reads past the tile).
      const uint32_t lbo = 128 * 128, sbo = 1024;
      CK(cudaMemset(dout, 0xff, 64 * 128 * 4));
      if (n == 128)
        ProbePV<128><<<1, 128>>>(da, db, dout, lbo, sbo);
      else
        ProbePV<64><<<1, 128>>>(da, db, dout, lbo, sbo);
      CK(cudaGetLastError());
      std::vector<float> got(64 * n);
      CK(cudaMemcpy(got.data(), dout, got.size() * 4, cudaMemcpyDeviceToHost));
      std::vector<double> ref(64 * n);
      for (int i = 0; i < 64; ++i)
        for (int j = 0; j < n; ++j) {
          double acc = 0;
          for (int k = 0; k < 128; ++k) acc += double(a[i * 128 + k]) * b[k * n + j];
          ref[i * n + j] = acc;
        }
      std::printf("probe PV (RS, MN-major, n%d, lbo %u sbo %u): rel err %.3g\n", n, lbo, sbo,
                  RelErr(got, ref));
    }
  }
  CK(cudaFree(da));
  CK(cudaFree(db));
  CK(cudaFree(dout));
}

// ---------------------------------------------------------------- attention cases
struct Chunk {
  int q_len, num_computed, window = 0, num_sinks = 0;
};
struct Case {
  int hq, hkv, d, bs;
  DType dtype;
  std::vector<Chunk> chunks;
};

struct Problem {
  Case c;
  std::vector<FlashChunk> fchunks;
  std::vector<int32_t> tables;
  std::vector<FlashWorkItem> items;
  std::vector<float> q, qs, k, v;  // rounded to the dtype
  int num_tokens = 0, num_blocks = 0;
  void *dq, *dqs, *dk, *dv, *do_, *dchunks, *dtables, *ditems;
};

static int WindowBegin(const FlashChunk& c, int pos) {
  return c.window > 0 ? std::max(0, pos - c.window + 1) : 0;
}
static int SinksEnd(const FlashChunk& c, int pos) {
  return std::min(c.num_sinks, WindowBegin(c, pos));
}

static void* Upload16(const std::vector<float>& f, DType t, std::vector<float>* rounded) {
  std::vector<uint16_t> h(f.size());
  for (size_t i = 0; i < f.size(); ++i) {
    h[i] = ToHalfBits(f[i], t);
    if (rounded) (*rounded)[i] = FromHalfBits(h[i], t);
  }
  void* d;
  CK(cudaMalloc(&d, h.size() * 2 + 16));
  CK(cudaMemcpy(d, h.data(), h.size() * 2, cudaMemcpyHostToDevice));
  return d;
}
template <typename V>
static void* UploadVec(const std::vector<V>& x) {
  void* d;
  CK(cudaMalloc(&d, x.size() * sizeof(V) + 16));
  CK(cudaMemcpy(d, x.data(), x.size() * sizeof(V), cudaMemcpyHostToDevice));
  return d;
}

static Problem Build(const Case& c, std::mt19937& rng, bool shuffle, bool host_copies) {
  Problem pr;
  pr.c = c;
  const int group = c.hq / c.hkv;
  int blocks = 0;
  for (const Chunk& ch : c.chunks) blocks += (ch.q_len + ch.num_computed + c.bs - 1) / c.bs;
  std::vector<int> physical(blocks + 3);
  for (int i = 0; i < blocks + 3; ++i) physical[i] = i;
  if (shuffle) std::shuffle(physical.begin(), physical.end(), rng);
  pr.num_blocks = blocks + 3;
  int next = 0;
  for (const Chunk& ch : c.chunks) {
    FlashChunk fc;
    fc.q_start = pr.num_tokens;
    fc.q_len = ch.q_len;
    fc.num_computed = ch.num_computed;
    fc.block_table_offset = static_cast<int>(pr.tables.size());
    fc.window = ch.window;
    fc.num_sinks = ch.num_sinks;
    const int kv_len = ch.num_computed + ch.q_len;
    const int first_visible = WindowBegin(fc, ch.num_computed);
    const int sinks_end = SinksEnd(fc, kv_len - 1);
    for (int b = 0; b * c.bs < kv_len; ++b) {
      const bool visible = b * c.bs < sinks_end || (b + 1) * c.bs > first_visible;
      // Released blocks are -1, as the planner writes them: the kernels must never read them.
      pr.tables.push_back(visible ? physical[next] : -1);
      ++next;
    }
    const int rows = ch.q_len * group;
    for (int kvh = 0; kvh < c.hkv; ++kvh)
      for (int r = 0; r < rows; r += 128) {
        const int first_pos = ch.num_computed + r / group;
        const int last_pos = ch.num_computed + (std::min(r + 128, rows) - 1) / group;
        FlashWorkItem it;
        it.chunk = static_cast<int>(pr.fchunks.size());
        it.kv_head = kvh;
        it.row_begin = r;
        it.key_begin = WindowBegin(fc, first_pos);
        it.key_end = last_pos + 1;
        it.sink_end = SinksEnd(fc, last_pos);
        pr.items.push_back(it);
      }
    pr.fchunks.push_back(fc);
    pr.num_tokens += ch.q_len;
  }
  std::stable_sort(
      pr.items.begin(), pr.items.end(), [](const FlashWorkItem& a, const FlashWorkItem& b) {
        return a.key_end - a.key_begin + a.sink_end > b.key_end - b.key_begin + b.sink_end;
      });
  const size_t cache = size_t(pr.num_blocks) * c.bs * c.hkv * c.d;
  const size_t qn = size_t(pr.num_tokens) * c.hq * c.d;
  std::normal_distribution<float> nd;
  auto fill = [&](std::vector<float>& x, size_t n) {
    x.resize(n);
    for (auto& e : x) e = nd(rng);
  };
  std::vector<float> tq, tqs, tk, tv;
  fill(tq, qn);
  fill(tqs, qn);
  fill(tk, cache);
  fill(tv, cache);
  if (host_copies) {
    pr.q.resize(qn);
    pr.qs.resize(qn);
    pr.k.resize(cache);
    pr.v.resize(cache);
  }
  pr.dq = Upload16(tq, c.dtype, host_copies ? &pr.q : nullptr);
  pr.dqs = Upload16(tqs, c.dtype, host_copies ? &pr.qs : nullptr);
  pr.dk = Upload16(tk, c.dtype, host_copies ? &pr.k : nullptr);
  pr.dv = Upload16(tv, c.dtype, host_copies ? &pr.v : nullptr);
  CK(cudaMalloc(&pr.do_, qn * 2));
  pr.dchunks = UploadVec(pr.fchunks);
  pr.dtables = UploadVec(pr.tables);
  pr.ditems = UploadVec(pr.items);
  return pr;
}

static void Free(Problem& pr) {
  for (void* p : {pr.dq, pr.dqs, pr.dk, pr.dv, pr.do_, pr.dchunks, pr.dtables, pr.ditems})
    CK(cudaFree(p));
}

static FlashParams Params(const Problem& pr) {
  FlashParams p;
  p.q = pr.dq;
  // A separate sink query only where there are sinks, as the attention layer passes it.
  bool has_sinks = false;
  for (const Chunk& ch : pr.c.chunks) has_sinks |= ch.num_sinks > 0;
  p.q_sink = has_sinks ? pr.dqs : nullptr;
  p.k_cache = pr.dk;
  p.v_cache = pr.dv;
  p.o = pr.do_;
  p.chunks = static_cast<const FlashChunk*>(pr.dchunks);
  p.block_tables = static_cast<const int32_t*>(pr.dtables);
  p.items = static_cast<const FlashWorkItem*>(pr.ditems);
  p.num_items = static_cast<int>(pr.items.size());
  p.num_heads = pr.c.hq;
  p.num_kv_heads = pr.c.hkv;
  p.head_dim = pr.c.d;
  p.block_size = pr.c.bs;
  p.num_blocks = pr.num_blocks;
  p.scale = 1.0f / std::sqrt(float(pr.c.d));
  return p;
}

static std::vector<double> Reference(const Problem& pr) {
  const Case& c = pr.c;
  const int group = c.hq / c.hkv, d = c.d;
  std::vector<double> ref(size_t(pr.num_tokens) * c.hq * d, 0.0);
  const double scale = 1.0 / std::sqrt(double(d));
  for (const FlashChunk& fc : pr.fchunks)
    for (int t = 0; t < fc.q_len; ++t)
      for (int h = 0; h < c.hq; ++h) {
        const int pos = fc.num_computed + t, kvh = h / group;
        const size_t qi = (size_t(fc.q_start + t) * c.hq + h) * d;
        const int ws = WindowBegin(fc, pos), se = SinksEnd(fc, pos);
        std::vector<int> keys;
        for (int j = 0; j < se; ++j) keys.push_back(j);
        for (int j = ws; j <= pos; ++j) keys.push_back(j);
        std::vector<double> sc(keys.size());
        double mx = -1e300;
        for (size_t i = 0; i < keys.size(); ++i) {
          const int j = keys[i];
          const float* qv = (j < se ? pr.qs.data() : pr.q.data()) + qi;
          const int blk = pr.tables[fc.block_table_offset + j / c.bs];
          const size_t kb = ((size_t(blk) * c.bs + j % c.bs) * c.hkv + kvh) * d;
          double dot = 0;
          for (int x = 0; x < d; ++x) dot += double(qv[x]) * pr.k[kb + x];
          sc[i] = dot * scale;
          mx = std::max(mx, sc[i]);
        }
        double sum = 0;
        for (double& s : sc) sum += s = std::exp(s - mx);
        for (size_t i = 0; i < keys.size(); ++i) {
          const int j = keys[i];
          const int blk = pr.tables[fc.block_table_offset + j / c.bs];
          const size_t vb = ((size_t(blk) * c.bs + j % c.bs) * c.hkv + kvh) * d;
          for (int x = 0; x < d; ++x) ref[qi + x] += sc[i] / sum * pr.v[vb + x];
        }
      }
  return ref;
}

enum Impl { kPortable, kSm90Overlap, kSm90TmaOverlap, kSm90TmaPingPong, kNumImpls };
static const char* kImplNames[] = {"mma.sync", "cp.async", "tma", "tma+pingpong"};

static void RunImpl(Impl impl, const FlashParams& p, DType dtype) {
  if (impl == kPortable) {
    LaunchFlashPrefill(p, dtype, 0, FlashPrefillImpl::kPortable);
    return;
  }
  LaunchFlashPrefillSm90(
      p, dtype, 0, impl == kSm90Overlap ? Sm90Producer::kCpAsync : Sm90Producer::kTma,
      impl == kSm90TmaPingPong ? Sm90Schedule::kPingPong : Sm90Schedule::kOverlap);
}

static int Check(const Case& c, std::mt19937& rng, const char* name) {
  Problem pr = Build(c, rng, true, true);
  const std::vector<double> ref = Reference(pr);
  const FlashParams p = Params(pr);
  int failures = 0;
  std::printf("%-34s", name);
  for (int impl = 0; impl < kNumImpls; ++impl) {
    CK(cudaMemset(pr.do_, 0xff, ref.size() * 2));  // NaN in both bf16 and fp16
    RunImpl(static_cast<Impl>(impl), p, c.dtype);
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
    std::vector<uint16_t> h(ref.size());
    CK(cudaMemcpy(h.data(), pr.do_, h.size() * 2, cudaMemcpyDeviceToHost));
    std::vector<float> got(h.size());
    for (size_t i = 0; i < h.size(); ++i) got[i] = FromHalfBits(h[i], c.dtype);
    const double err = RelErr(got, ref);
    const bool ok = err <= 1e-2;
    failures += !ok;
    std::printf("  %s %.2e%s", kImplNames[impl], err, ok ? "" : " FAIL");
  }
  std::printf("\n");
  Free(pr);
  return failures;
}

template <typename Run>
static float TimeMs(Run run) {
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  for (int i = 0; i < 3; ++i) run();
  std::vector<float> ms;
  for (int i = 0; i < 15; ++i) {
    CK(cudaEventRecord(a));
    run();
    CK(cudaEventRecord(b));
    CK(cudaEventSynchronize(b));
    float t;
    CK(cudaEventElapsedTime(&t, a, b));
    ms.push_back(t);
  }
  CK(cudaGetLastError());
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

int main(int argc, char** argv) {
  // --quick: correctness only; --layout: correctness and the block-layout timings only.
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const bool layout_only = argc > 1 && std::strcmp(argv[1], "--layout") == 0;
  std::mt19937 rng(20261206);
  Probes(rng);
  int failures = 0;
  const DType bf = DType::kBF16, fp = DType::kF16;
  failures += Check({4, 4, 128, 16, bf, {{17, 0}, {63, 0}, {65, 3}, {129, 40}}}, rng,
                    "d128 4/4 bf16 small");
  failures += Check({8, 2, 128, 16, fp, {{17, 0}, {63, 0}, {65, 3}, {129, 40}}}, rng,
                    "d128 8/2 fp16 small");
  failures +=
      Check({8, 1, 64, 16, bf, {{17, 0}, {63, 0}, {65, 3}, {129, 40}}}, rng, "d64 8/1 bf16 small");
  failures += Check({4, 4, 64, 16, fp, {{300, 0}, {257, 700}}}, rng, "d64 4/4 fp16 long");
  failures += Check({32, 8, 128, 32, bf, {{1000, 0}, {3, 1021}, {257, 700}}}, rng,
                    "d128 32/8 bf16 bs32 long");
  failures += Check({16, 16, 128, 16, bf, {{700, 0}}}, rng, "d128 16/16 bf16 700");
  failures += Check({8, 2, 128, 16, bf, {{500, 0, 100, 4}, {300, 900, 257, 1}, {200, 50, 64, 0}}},
                    rng, "d128 8/2 window+sinks");
  failures += Check({4, 4, 64, 8, fp, {{400, 0, 200, 130}, {150, 500, 33, 7}}}, rng,
                    "d64 4/4 fp16 window+sinks bs8");
  failures +=
      Check({6, 3, 128, 12, bf, {{333, 100, 0, 0}, {129, 0}}}, rng, "d128 6/3 bs12 (not pow2)");
  // More items than SMs: persistent CTAs take several items each (rings and Q run on).
  failures +=
      Check({32, 32, 128, 16, bf, {{300, 0}, {200, 100}, {129, 0}}}, rng, "d128 32/32 224 items");
  failures += Check({32, 32, 64, 16, fp, {{300, 0, 100, 4}, {200, 400, 64, 1}}}, rng,
                    "d64 32/32 window+sinks 160 items");
  std::printf("correctness failures: %d\n", failures);
  if (quick) return failures ? 1 : 0;

  std::printf("\n%-26s", "TFLOP/s (4*B*H*S^2/2*d)");
  for (const char* name : kImplNames) std::printf(" %12s", name);
  std::printf("\n");
  struct Shape {
    int seq, d, hq, hkv;
  };
  for (Shape s : {Shape{1024, 128, 16, 16}, Shape{4096, 128, 16, 16}, Shape{16384, 128, 16, 16},
                  Shape{4096, 64, 16, 16}, Shape{4096, 128, 32, 8}}) {
    if (layout_only) break;
    Case c{s.hq, s.hkv, s.d, 16, bf, {}};
    for (int b = 0; b < 16384 / s.seq; ++b) c.chunks.push_back({s.seq, 0});
    Problem pr = Build(c, rng, false, false);
    const FlashParams p = Params(pr);
    const double flops = 4.0 * (16384 / s.seq) * s.hq * double(s.seq) * s.seq / 2 * s.d;
    char label[64];
    std::snprintf(label, sizeof(label), "seq %d d%d %d/%d", s.seq, s.d, s.hq, s.hkv);
    std::printf("%-26s", label);
    for (int impl = 0; impl < kNumImpls; ++impl) {
      const float ms = TimeMs([&] { RunImpl(static_cast<Impl>(impl), p, bf); });
      std::printf(" %12.1f", flops / ms / 1e9);
    }
    std::printf("\n");
    Free(pr);
  }
  // The TMA producer over adjacent blocks (runs of kTmaRunKeys keys in one box) and shuffled
  // ones (a box per block), at 16k, d = 128.
  std::printf("\nTMA producer by block layout, seq 16384 d128 16/16 (TFLOP/s)\n");
  for (int bs : {16, 64})
    for (bool shuffled : {false, true}) {
      Case c{16, 16, 128, bs, bf, {{16384, 0}}};
      Problem pr = Build(c, rng, shuffled, false);
      const FlashParams p = Params(pr);
      const double flops = 4.0 * 16 * double(16384) * 16384 / 2 * 128;
      const float overlap = TimeMs([&] { RunImpl(kSm90TmaOverlap, p, bf); });
      const float ping_pong = TimeMs([&] { RunImpl(kSm90TmaPingPong, p, bf); });
      std::printf("block %d %s: overlap %.1f, ping-pong %.1f\n", bs,
                  shuffled ? "shuffled" : "adjacent", flops / overlap / 1e9,
                  flops / ping_pong / 1e9);
      Free(pr);
    }
  return failures ? 1 : 0;
}
