// Gated DeltaNet per-token kernels: the input prep (conv + SiLU, l2 norms, gates), the conv
// window rewrite, and the fused recurrent decode step; plus the host work-list builder.
#include <algorithm>

#include "backends/cuda/kernels/cuda_types.cuh"
#include "backends/cuda/kernels/gated_deltanet_kernels.h"
#include "backends/cuda/kernels/gated_deltanet_mma.h"

namespace junction::cuda {
namespace {

using bf16 = __nv_bfloat16;
constexpr int kMaxConvPast = 7;  // conv_kernel <= 8

// torch.nn.functional.softplus (beta 1, threshold 20).
__device__ __forceinline__ float Softplus(float x) { return x > 20.0f ? x : log1pf(expf(x)); }

// One block (4 warps) per token. Warps take the q, k and v heads in turn; a lane holds up to 4
// channels of a head (dims <= 128). Everything stays float32 as on the CPU (these fixtures'
// layers amplify a bf16 rounding here into ~1e-2 at their output); the bf16 copy only feeds the
// chunked prefill's tensor cores.
__global__ void __launch_bounds__(128) PrepKernel(const GdnPrepParams p) {
  const int t = blockIdx.x;
  const GdnRequest req = p.requests[p.token_request[t]];
  const int rel = t - req.first_token;
  const int hk = p.dims.num_key_heads, hv = p.dims.num_value_heads;
  const int dk = p.dims.head_k_dim, dv = p.dims.head_v_dim;
  const int key_dim = hk * dk, conv_dim = 2 * key_dim + hv * dv;
  const int past = p.conv_kernel - 1;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const float* window = p.conv_state + int64_t(req.slot) * conv_dim * past;
  auto input = [&](int pos, int c) {
    if (pos >= 0) return p.proj[int64_t(req.first_token + pos) * p.proj_stride + c];
    return req.fresh ? 0.0f : window[int64_t(c) * past + past + pos];
  };
  for (int seg = warp; seg < 2 * hk + hv; seg += 4) {
    const bool is_qk = seg < 2 * hk;
    const int d = is_qk ? dk : dv;
    const int c0 = is_qk ? seg * dk : 2 * key_dim + (seg - 2 * hk) * dv;
    float y[4];
    float ss = 0.0f;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int ch = lane + 32 * j;
      y[j] = 0.0f;
      if (ch >= d) continue;
      const int c = c0 + ch;
      float acc;
      if (p.short_conv) {
        acc = 0.0f;
        const float* w = p.conv_weight + int64_t(c) * p.conv_kernel;
        for (int i = 0; i < p.conv_kernel; ++i) acc += w[i] * input(rel - past + i, c);
      } else {
        acc = input(rel, c);
      }
      y[j] = gdn::Silu(acc);
      ss += y[j] * y[j];
    }
    float scale = 1.0f;
    if (is_qk) {
      scale = 1.0f / sqrtf(WarpSum(ss) + 1e-6f);
      if (seg < hk) scale *= p.q_scale;
    }
    float* out = p.mixed + int64_t(t) * conv_dim + c0;
    bf16* out_bf16 = static_cast<bf16*>(p.mixed_bf16) + int64_t(t) * conv_dim + c0;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      if (lane + 32 * j >= d) continue;
      out[lane + 32 * j] = y[j] * scale;
      if (p.mixed_bf16 != nullptr) out_bf16[lane + 32 * j] = __float2bfloat16(y[j] * scale);
    }
  }
  for (int h = threadIdx.x; h < hv; h += blockDim.x) {
    const float a = p.ab[int64_t(t) * 2 * hv + h], b = p.ab[int64_t(t) * 2 * hv + hv + h];
    p.g[int64_t(t) * hv + h] = -expf(p.a_log[h]) * Softplus(a + p.dt_bias[h]);
    p.beta[int64_t(t) * hv + h] = p.beta_scale / (1.0f + expf(-b));
  }
}

// Per (request, channel): the window becomes the request's last conv_kernel - 1 inputs.
__global__ void ConvWindowKernel(const GdnPrepParams p) {
  const GdnRequest req = p.requests[blockIdx.x];
  const int conv_dim = 2 * p.dims.num_key_heads * p.dims.head_k_dim +
                       p.dims.num_value_heads * p.dims.head_v_dim;
  const int c = blockIdx.y * blockDim.x + threadIdx.x;
  if (c >= conv_dim || req.num_tokens == 0) return;
  const int past = p.conv_kernel - 1;
  float* window = p.conv_state + (int64_t(req.slot) * conv_dim + c) * past;
  float next[kMaxConvPast];
#pragma unroll
  for (int i = 0; i < kMaxConvPast; ++i) {
    if (i >= past) break;
    const int pos = req.num_tokens - past + i;
    next[i] = pos >= 0 ? p.proj[int64_t(req.first_token + pos) * p.proj_stride + c]
                       : (req.fresh ? 0.0f : window[past + pos]);
  }
#pragma unroll
  for (int i = 0; i < kMaxConvPast; ++i)
    if (i < past) window[i] = next[i];
}

// ---- Decode: one CTA per (request, value head, tile of TW dv columns): the update of a state
// column needs that column only, and small CTAs keep many state tiles in flight per SM. Each
// thread owns 4 columns (float4) of kRows rows, rows interleaved so that a warp reads whole tile
// rows. ----
constexpr int kDecodeTile = 32;

template <int DK, int TW>
struct DecodeShape {
  static constexpr int kColThreads = TW / 4;
  static constexpr int kRowGroups = DK < 128 / kColThreads ? DK : 128 / kColThreads;
  static constexpr int kThreads = kRowGroups * kColThreads;
  static constexpr int kRows = DK / kRowGroups;
  static constexpr int kWarps = (kThreads + 31) / 32;
};

__device__ __forceinline__ float4 Fma4(float a, float4 x, float4 y) {  // a * x + y
  return make_float4(fmaf(a, x.x, y.x), fmaf(a, x.y, y.y), fmaf(a, x.z, y.z), fmaf(a, x.w, y.w));
}

// Writes N (2 or 4) outputs of row t, head h from column `col`: o * inv, times the norm weight
// and silu(gate) when present, as bf16.
template <int N>
__device__ __forceinline__ void StoreDecodeOutput(const GdnCoreParams& p, int64_t t, int h,
                                                  int col, const float (&o)[N], float inv) {
  const int dv = p.dims.head_v_dim;
  uint32_t packed[N / 2];
#pragma unroll
  for (int i = 0; i < N; i += 2) {
    float y[2];
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      y[e] = o[i + e] * inv;
      if (p.norm_weight != nullptr)
        y[e] *= p.norm_weight[col + i + e] + (p.norm_plus_one ? 1.0f : 0.0f);
      if (p.gate != nullptr) y[e] *= gdn::Silu(p.gate[t * p.gate_stride + h * dv + col + i + e]);
    }
    packed[i / 2] = gdn::PackBf16(y[0], y[1]);
  }
  bf16* out = static_cast<bf16*>(p.o) + (t * p.dims.num_value_heads + h) * dv + col;
  if constexpr (N == 4) {
    *reinterpret_cast<uint2*>(out) = make_uint2(packed[0], packed[1]);
  } else {
    *reinterpret_cast<uint32_t*>(out) = packed[0];
  }
}

template <int DK, int DV, int TW>
__global__ void __launch_bounds__(DecodeShape<DK, TW>::kThreads) DecodeKernel(const GdnCoreParams p) {
  using S = DecodeShape<DK, TW>;
  constexpr int kTiles = DV / TW;
  __shared__ float sq[DK], sk[DK];
  __shared__ __align__(16) float red_k[S::kWarps][TW];
  __shared__ __align__(16) float red_q[S::kWarps][TW];
  __shared__ float s_kq;
  const GdnRequest req = p.decode[blockIdx.x];
  const int hv = p.dims.num_value_heads, h = blockIdx.y, col0 = blockIdx.z * TW;
  const int kh = h / (hv / p.dims.num_key_heads);
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int cg = tid % S::kColThreads, rg = tid / S::kColThreads;
  const int64_t t = req.first_token;
  float* state = p.state + (int64_t(req.slot) * hv + h) * DK * DV + col0 + 4 * cg;
  float4 s[S::kRows];
#pragma unroll
  for (int j = 0; j < S::kRows; ++j)
    s[j] = req.fresh ? make_float4(0.f, 0.f, 0.f, 0.f)
                     : *reinterpret_cast<const float4*>(state + (rg + j * S::kRowGroups) * DV);
  const float* q = p.q_f32 + t * p.qk_stride + kh * DK;
  const float* k = p.k_f32 + t * p.qk_stride + kh * DK;
  for (int i = tid; i < DK; i += S::kThreads) {
    sq[i] = q[i];
    sk[i] = k[i];
  }
  __syncthreads();
  if (warp == 0) {
    float kq = 0.0f;
    for (int i = lane; i < DK; i += 32) kq += sq[i] * sk[i];
    kq = WarpSum(kq);
    if (lane == 0) s_kq = kq;
  }
  float4 pk = make_float4(0.f, 0.f, 0.f, 0.f), pq = pk;
#pragma unroll
  for (int j = 0; j < S::kRows; ++j) {
    const int r = rg + j * S::kRowGroups;
    pk = Fma4(sk[r], s[j], pk);
    pq = Fma4(sq[r], s[j], pq);
  }
#pragma unroll
  for (int off = S::kColThreads; off < 32 && off < S::kThreads; off <<= 1) {
    pk.x += __shfl_xor_sync(0xffffffffu, pk.x, off);
    pk.y += __shfl_xor_sync(0xffffffffu, pk.y, off);
    pk.z += __shfl_xor_sync(0xffffffffu, pk.z, off);
    pk.w += __shfl_xor_sync(0xffffffffu, pk.w, off);
    pq.x += __shfl_xor_sync(0xffffffffu, pq.x, off);
    pq.y += __shfl_xor_sync(0xffffffffu, pq.y, off);
    pq.z += __shfl_xor_sync(0xffffffffu, pq.z, off);
    pq.w += __shfl_xor_sync(0xffffffffu, pq.w, off);
  }
  if (lane < S::kColThreads) {
    *reinterpret_cast<float4*>(&red_k[warp][4 * cg]) = pk;
    *reinterpret_cast<float4*>(&red_q[warp][4 * cg]) = pq;
  }
  __syncthreads();
  float4 sk_sum = make_float4(0.f, 0.f, 0.f, 0.f), sq_sum = sk_sum;
#pragma unroll
  for (int w = 0; w < S::kWarps; ++w) {
    const float4 a = *reinterpret_cast<const float4*>(&red_k[w][4 * cg]);
    const float4 b = *reinterpret_cast<const float4*>(&red_q[w][4 * cg]);
    sk_sum = make_float4(sk_sum.x + a.x, sk_sum.y + a.y, sk_sum.z + a.z, sk_sum.w + a.w);
    sq_sum = make_float4(sq_sum.x + b.x, sq_sum.y + b.y, sq_sum.z + b.z, sq_sum.w + b.w);
  }
  const float decay = __expf(p.g[t * hv + h]), beta = p.beta[t * hv + h];
  const float4 v = *reinterpret_cast<const float4*>(p.v_f32 + t * p.v_stride + h * DV + col0 + 4 * cg);
  // u = beta (v - S_decayed^T k); S <- S_decayed + k u^T; o = S_new^T q.
  const float4 u = make_float4(beta * (v.x - decay * sk_sum.x), beta * (v.y - decay * sk_sum.y),
                               beta * (v.z - decay * sk_sum.z), beta * (v.w - decay * sk_sum.w));
#pragma unroll
  for (int j = 0; j < S::kRows; ++j) {
    const int r = rg + j * S::kRowGroups;
    const float4 x = s[j];
    const float kr = sk[r];
    *reinterpret_cast<float4*>(state + r * DV) =
        make_float4(fmaf(decay, x.x, kr * u.x), fmaf(decay, x.y, kr * u.y),
                    fmaf(decay, x.z, kr * u.z), fmaf(decay, x.w, kr * u.w));
  }
  if (warp != 0) return;
  // Warp 0's lanes below kColThreads hold the tile's outputs (the others hold copies).
  const float kq = s_kq;
  const float o[4] = {fmaf(decay, sq_sum.x, u.x * kq), fmaf(decay, sq_sum.y, u.y * kq),
                      fmaf(decay, sq_sum.z, u.z * kq), fmaf(decay, sq_sum.w, u.w * kq)};
  const int col = col0 + 4 * cg;
  auto store_own = [&] {  // the row's norm needs no other tile
    float inv = 1.0f;
    if (p.norm_weight != nullptr) {
      float ss = o[0] * o[0] + o[1] * o[1] + o[2] * o[2] + o[3] * o[3];
#pragma unroll
      for (int off = 1; off < S::kColThreads; off <<= 1) ss += __shfl_xor_sync(0xffffffffu, ss, off);
      inv = rsqrtf(ss / DV + p.norm_eps);
    }
    if (lane < S::kColThreads) StoreDecodeOutput<4>(p, t, h, col, o, inv);
  };
  if constexpr (kTiles == 1) {
    store_own();
  } else {
    if (p.norm_weight == nullptr) {
      store_own();
      return;
    }
    // The norm spans every tile of the head: raw outputs out, and the last tile to arrive (the
    // counter's kTiles-th increment) normalizes the row and resets the counter for the next
    // launch.
    float* raw = p.decode_o + (t * hv + h) * DV;
    if (lane < S::kColThreads) {
      *reinterpret_cast<float4*>(raw + col) = make_float4(o[0], o[1], o[2], o[3]);
      __threadfence();
    }
    __syncwarp();
    int last = 0;
    if (lane == 0) {
      int32_t* count = p.decode_count + int64_t(blockIdx.x) * hv + h;
      last = atomicAdd(count, 1) == kTiles - 1;
      if (last) *count = 0;
    }
    if (!__shfl_sync(0xffffffffu, last, 0)) return;
    __threadfence();
    constexpr int kPer = DV / 32;  // 2 or 4 columns per lane
    float y[kPer];
    float ss = 0.0f;
#pragma unroll
    for (int e = 0; e < kPer; ++e) {
      y[e] = __ldcg(raw + lane * kPer + e);  // from L2: other CTAs wrote these
      ss += y[e] * y[e];
    }
    const float inv = rsqrtf(WarpSum(ss) / DV + p.norm_eps);
    StoreDecodeOutput<kPer>(p, t, h, lane * kPer, y, inv);
  }
}

template <int DK, int DV>
void LaunchDecodeDims(const GdnCoreParams& p, cudaStream_t stream) {
  constexpr int kTile = DV < kDecodeTile ? DV : kDecodeTile;
  DecodeKernel<DK, DV, kTile>
      <<<dim3(p.num_decode, p.dims.num_value_heads, DV / kTile), DecodeShape<DK, kTile>::kThreads,
         0, stream>>>(p);
}

}  // namespace

int GdnDecodeTile(int head_v_dim) { return std::min(head_v_dim, kDecodeTile); }

bool GdnSupportsDims(int dk, int dv) {
  return (dk == 16 && dv == 16) || (dk == 32 && dv == 32) || (dk == 32 && dv == 64) ||
         (dk == 64 && dv == 64) || (dk == 64 && dv == 128) || (dk == 128 && dv == 128);
}

GdnWork BuildGdnWork(const std::vector<GdnRequest>& requests, int num_tokens) {
  GdnWork work;
  work.requests = requests;
  work.token_request.assign(std::max(num_tokens, 0), 0);
  for (size_t i = 0; i < requests.size(); ++i) {
    GdnRequest r = requests[i];
    for (int t = 0; t < r.num_tokens; ++t)
      work.token_request[r.first_token + t] = static_cast<int32_t>(i);
    if (r.num_tokens == 1) {
      work.decode.push_back(r);
    } else if (r.num_tokens > 1) {
      r.first_chunk = static_cast<int32_t>(work.chunks.size());
      for (int ci = 0; ci * kGdnChunk < r.num_tokens; ++ci)
        work.chunks.push_back(RequestChunk(r, ci));
      r.num_chunks = static_cast<int32_t>(work.chunks.size()) - r.first_chunk;
      work.prefill.push_back(r);
    }
  }
  return work;
}

void LaunchGdnPrep(const GdnPrepParams& p, cudaStream_t stream) {
  if (p.num_tokens == 0) return;
  PrepKernel<<<p.num_tokens, 128, 0, stream>>>(p);
  if (!p.short_conv || p.conv_kernel < 2 || p.num_requests == 0) return;
  const int conv_dim = 2 * p.dims.num_key_heads * p.dims.head_k_dim +
                       p.dims.num_value_heads * p.dims.head_v_dim;
  ConvWindowKernel<<<dim3(p.num_requests, (conv_dim + 255) / 256), 256, 0, stream>>>(p);
}

void LaunchGdnDecode(const GdnCoreParams& p, cudaStream_t stream) {
  if (p.num_decode == 0) return;
  const int dk = p.dims.head_k_dim, dv = p.dims.head_v_dim;
  if (dk == 16 && dv == 16) LaunchDecodeDims<16, 16>(p, stream);
  if (dk == 32 && dv == 32) LaunchDecodeDims<32, 32>(p, stream);
  if (dk == 32 && dv == 64) LaunchDecodeDims<32, 64>(p, stream);
  if (dk == 64 && dv == 64) LaunchDecodeDims<64, 64>(p, stream);
  if (dk == 64 && dv == 128) LaunchDecodeDims<64, 128>(p, stream);
  if (dk == 128 && dv == 128) LaunchDecodeDims<128, 128>(p, stream);
}

}  // namespace junction::cuda
