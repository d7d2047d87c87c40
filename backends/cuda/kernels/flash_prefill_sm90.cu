// Hopper flash prefill (see flash_prefill_sm90.h). Warp-specialized CTA of 384 threads:
//   warpgroup 0 (producer, 56 registers): cp.async gathers of the Q tile (and the sink query);
//     every K and V tile into two rings (K 3 and V 2 tiles deep at d = 128, 4 each at d = 64),
//     by cp.async or TMA (Sm90Producer), each tile completing on its own mbarrier, so Q.K^T of
//     a tile can start while its V is still landing. The TMA issues come from lanes of all four
//     producer warps, with each tile's block-table reads done before the wait for its stages;
//   warpgroups 1, 2 (consumers, 224 registers): 64 query rows each. Per tile S = Q.K^T (wgmma,
//     both operands in shared memory), mask + online softmax in registers, O += P.V (wgmma, P
//     from registers, V as the MN-major operand). A K stage goes back to the producer as soon as
//     its Q.K^T is done, a V stage once its P.V is (with one release after P.V, a K tile was
//     requested only as it was needed).
// The grid is persistent: one CTA per SM walks its share of the work items, and the producer
// loads the next item's Q (into the second Q buffer, where no sink query takes it) and first
// tiles while the consumers finish the last one's P.V and write its output. Sm90Schedule picks
// the consumers' order of work (flash_prefill_sm90.h).
#include <cuda.h>  // CUtensorMap
#include <cudaTypedefs.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <cstdio>

#include "backends/cuda/kernels/cuda_types.cuh"
#include "backends/cuda/kernels/flash_prefill_sm90.h"
#include "backends/cuda/kernels/wgmma_sm90.cuh"

namespace junction::cuda {
namespace sm90 {

template <int D>
struct Sm90Tile {
  static constexpr int kRows = 128;  // = FlashPrefillRows: 2 consumer warpgroups x 64 rows
  static constexpr int kKeys = 128;  // keys per K/V tile
  // Ring depths: d = 128 fills 224 KB with Q, the sink query, 3 K and 2 V tiles.
  static constexpr int kKStages = D == 128 ? 3 : 4;
  static constexpr int kVStages = D == 128 ? 2 : 4;
  static constexpr int kThreads = 384;
  static constexpr int kChunks = D / 8;  // 16-byte chunks per row
  static constexpr uint32_t kQBytes = kRows * D * 2;
  static constexpr uint32_t kKVBytes = kKeys * D * 2;
  // Byte offsets from the 1024-aligned base of dynamic shared memory.
  static constexpr uint32_t kQ = 0;
  static constexpr uint32_t kQSink = kQBytes;
  static constexpr uint32_t kK = 2 * kQBytes;
  static constexpr uint32_t kV = kK + kKStages * kKVBytes;
  // mbarriers: full and empty of both Q buffers, then of every K stage, then of every V stage.
  static constexpr uint32_t kBars = kV + kVStages * kKVBytes;
  static constexpr uint32_t kSmemBytes = kBars + 8 * (4 + 2 * kKStages + 2 * kVStages) + 1024;
  static_assert(kSmemBytes <= 227 * 1024, "over the sm_90 shared memory of one CTA");
};

// TMA boxes: 64 columns x whole 128-byte swizzle atoms of 8 keys, so a box lands 1024-byte
// aligned in a tile. A box may not cross a cache block, so the block box is the largest power of
// two from 8 to kTmaRunKeys keys that divides block_size. Boxes are the producer's limit (at 16k,
// d = 128, H100, 2026-12-07: 317 / 426 / 516 TFLOP/s with 8 / 16 / 32-key boxes), so a run of
// kTmaRunKeys keys whose blocks are physically adjacent in the cache (fresh allocations mostly
// are) comes as one box of the run map instead.
inline constexpr int kTmaMinBoxKeys = 8;
inline constexpr int kTmaRunKeys = 32;
inline int TmaBoxKeys(int block_size) {
  int keys = kTmaRunKeys;
  while (keys > kTmaMinBoxKeys && block_size % keys != 0) keys /= 2;
  return keys;
}

}  // namespace sm90

namespace {

using sm90::kTmaMinBoxKeys;
using sm90::kTmaRunKeys;
using sm90::Sm90Tile;

#ifdef JUNCTION_SM90A

__device__ __forceinline__ uint32_t SmemAddr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte asynchronous copy; an invalid source writes zeros (src-size 0) and reads nothing.
__device__ __forceinline__ void CpAsync16(uint32_t dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(valid ? 16 : 0)
               : "memory");
}

__device__ __forceinline__ float Exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// What every role needs to know about one work item of the CTA. first_tile counts the K/V
// tiles of the CTA's earlier items: the rings run on across items, so tile t of this item sits
// in ring slot first_tile + t.
struct ItemView {
  FlashWorkItem item;
  FlashChunk chunk;
  int group, num_rows, num_sink_tiles, num_tiles, first_tile;
  __device__ int TileBegin(int t, int keys) const {
    return t < num_sink_tiles ? t * keys : item.key_begin + (t - num_sink_tiles) * keys;
  }
};

// The CTA's items of a persistent grid: in rounds of gridDim.x over the longest-first list,
// forward in even rounds and backward in odd ones, so that the CTAs' total work stays even.
__device__ __forceinline__ int ItemIndex(int round) {
  const int g = gridDim.x;
  return round * g + ((round & 1) ? g - 1 - static_cast<int>(blockIdx.x) : blockIdx.x);
}

template <int D>
__device__ __forceinline__ ItemView MakeItemView(const FlashParams& p, int index, int first_tile) {
  using L = Sm90Tile<D>;
  ItemView v;
  v.item = p.items[index];
  v.chunk = p.chunks[v.item.chunk];
  v.group = p.num_heads / p.num_kv_heads;
  v.num_rows = v.chunk.q_len * v.group;
  v.num_sink_tiles = (v.item.sink_end + L::kKeys - 1) / L::kKeys;
  v.num_tiles = v.num_sink_tiles + (v.item.key_end - v.item.key_begin + L::kKeys - 1) / L::kKeys;
  v.first_tile = first_tile;
  return v;
}

// A ring of kStages tiles in shared memory with a full and an empty mbarrier per stage; tile t
// sits in stage t % kStages, and its barriers complete their (t / kStages)-th phase.
template <int kStages>
struct Ring {
  uint32_t tiles, bars;  // shared addresses: first tile, first full barrier
  uint32_t tile_bytes;
  __device__ uint32_t tile(int t) const { return tiles + (t % kStages) * tile_bytes; }
  __device__ uint32_t full(int t) const { return bars + 8 * (t % kStages); }
  __device__ uint32_t empty(int t) const { return bars + 8 * (kStages + t % kStages); }
  __device__ static uint32_t parity(int t) { return (t / kStages) & 1; }
  __device__ void Init(uint32_t full_count, uint32_t empty_count) const {
    for (int s = 0; s < kStages; ++s) {
      sm90::MbarInit(bars + 8 * s, full_count);
      sm90::MbarInit(bars + 8 * (kStages + s), empty_count);
    }
  }
  // Producer side: waits until tile t's stage is free again (its previous tile was consumed).
  __device__ void WaitEmpty(int t) const {
    if (t >= kStages) sm90::MbarWait(empty(t), ((t / kStages) - 1) & 1);
  }
};

template <int D>
struct Barriers {
  uint32_t q_full, q_empty;  // of Q buffer 0; buffer 1's follow each at +8
  Ring<Sm90Tile<D>::kKStages> k;
  Ring<Sm90Tile<D>::kVStages> v;
  __device__ explicit Barriers(uint32_t base) {
    using L = Sm90Tile<D>;
    q_full = base + L::kBars;
    q_empty = q_full + 16;
    k = {base + L::kK, q_full + 32, L::kKVBytes};
    v = {base + L::kV, q_full + 8 * (4 + 2 * L::kKStages), L::kKVBytes};
  }
};

// Where the `round`-th item of a CTA finds its query tiles. Without a separate sink query
// (p.q_sink null: sink keys are scored with q itself) the two Q buffers alternate between items,
// so the producer loads the next item's Q while this one's last tiles and epilogue run; with one,
// buffer 0 holds the item's Q and buffer 1 its sink query.
struct QSlot {
  uint32_t q, sink;  // shared-memory offsets of the Q tile and the sink-query tile
  uint32_t full, empty;
  int use;  // how many earlier items of the CTA used this buffer (its barriers' phase)
};

template <int D>
__device__ __forceinline__ QSlot QSlotOf(const FlashParams& p, const Barriers<D>& bars, int round) {
  using L = Sm90Tile<D>;
  const bool alternate = p.q_sink == nullptr;
  const int b = alternate ? round & 1 : 0;
  QSlot s;
  s.q = b ? L::kQSink : L::kQ;
  s.sink = alternate ? s.q : L::kQSink;
  s.full = bars.q_full + 8 * b;
  s.empty = bars.q_empty + 8 * b;
  s.use = alternate ? round >> 1 : round;
  return s;
}

// Producer: one K or V tile (keys [n0, min(n0 + kKeys, end))) gathered into a swizzled tile;
// keys past `end` are zero-filled, so no masked lane of P.V ever multiplies garbage.
template <typename T, int D>
__device__ __forceinline__ void GatherTile(const T* cache, uint32_t dst, const FlashParams& p,
                                           const int32_t* table, int kv_head, int n0, int end,
                                           int tid) {
  using L = Sm90Tile<D>;
  const int bs = p.block_size;
  const bool pow2 = (bs & (bs - 1)) == 0;
  const int shift = __ffs(bs) - 1;
  const int c = tid % L::kChunks;
  const int64_t column = static_cast<int64_t>(kv_head) * D + c * 8;
#pragma unroll 4
  for (int r = tid / L::kChunks; r < L::kKeys; r += 128 / L::kChunks) {
    const int key = n0 + r;
    const bool valid = key < end;
    int64_t offset = 0;
    if (valid) {
      const int b = pow2 ? key >> shift : key / bs;
      const int in_block = key - b * bs;
      offset = (static_cast<int64_t>(table[b]) * bs + in_block) * p.num_kv_heads * D + column;
    }
    CpAsync16(dst + sm90::SwizzledOffset(L::kKeys, r, c), cache + offset, valid);
  }
}

// The two tensor maps of one cache: boxes of box_keys keys (within a block) and of kTmaRunKeys
// keys (over physically adjacent blocks; the same map when box_keys == kTmaRunKeys).
struct TmaMaps {
  const CUtensorMap* block;
  const CUtensorMap* run;
};

// Which run of a tile a producer thread issues, the cache rows of its block boxes, and whether it
// can go as one box: found once per tile for both K and V (same keys, same block-table entries),
// before the producer waits for the tile's stages, so that the table reads overlap the wait.
// At 16k, d = 128 (H100, 2026-12-07) the reads before the wait took adjacent blocks from 521 to
// 585 TFLOP/s; keeping every box's row, not only the run's first, took shuffled blocks from 398
// to 491 (adjacent 566).
struct TmaRun {
  static constexpr int kMaxBoxes = kTmaRunKeys / kTmaMinBoxKeys;
  int id;               // column block x run index; >= (D / 64) * runs for arrive-only threads
  int key;              // first key of the run
  int rows[kMaxBoxes];  // cache row of each block box of the run that starts before `end`
  bool whole;           // the run lies before `end` on adjacent blocks: one box of the run map
};

template <int D>
__device__ __forceinline__ TmaRun PlanTmaRun(const FlashParams& p, const int32_t* table, int n0,
                                             int end, int box_keys, int tid) {
  constexpr int kRuns = Sm90Tile<D>::kKeys / kTmaRunKeys;
  static_assert((D / 64) * kRuns <= 32, "at most 32 runs per tile");
  TmaRun r;
  // Issuing threads are spread over the four producer warps (lanes 0, 1 of each at d = 128):
  // the warps' TMA issues then go through the SM's four schedulers side by side. With all of
  // them in the first warp, 16k prefill ran at 532 TFLOP/s instead of 584 (H100, 2026-12-07).
  r.id = (tid % 32) * 4 + tid / 32;
  r.key = n0 + (r.id % kRuns) * kTmaRunKeys;
  r.whole = false;
#pragma unroll
  for (int i = 0; i < TmaRun::kMaxBoxes; ++i) r.rows[i] = 0;
  if (r.id >= (D / 64) * kRuns) return r;
  const int bs = p.block_size, boxes = kTmaRunKeys / box_keys;
#pragma unroll
  for (int i = 0; i < TmaRun::kMaxBoxes; ++i) {
    const int k = r.key + i * box_keys;
    if (i < boxes && k < end) r.rows[i] = table[k / bs] * bs + k % bs;
  }
  r.whole = r.key + kTmaRunKeys <= end;
#pragma unroll
  for (int i = 1; i < TmaRun::kMaxBoxes; ++i)
    if (i < boxes) r.whole &= r.rows[i] == r.rows[0] + i * box_keys;
  return r;
}

// Producer, TMA: one K or V tile (keys [n0, n0 + kKeys), n0 % box_keys == 0) in runs of
// kTmaRunKeys keys x 64 columns, one run per issuing thread (D / 64 column blocks x
// kKeys / kTmaRunKeys runs; PlanTmaRun). A run that is `whole` goes as one box, else box by
// box; the issuing thread arrives on `bar` once, after its copies, and the other producer
// threads arrive at once. A box wholly past `end` is zeroed instead (its block-table entry may
// not exist). A box that `end` cuts is gathered with cp.async, its keys past `end` zero-filled:
// the cache may hold anything there (another request's stale keys, an inf), and the consumers'
// zero probabilities times an inf or NaN value would still be NaN.
template <int D>
__device__ __forceinline__ void TmaTile(TmaMaps maps, const void* cache, uint32_t dst, uint32_t bar,
                                        const FlashParams& p, int kv_head, const TmaRun& r, int end,
                                        int box_keys) {
  using L = Sm90Tile<D>;
  constexpr int kRuns = L::kKeys / kTmaRunKeys;
  if (r.id >= (D / 64) * kRuns) {
    sm90::MbarArrive(bar);
    return;
  }
  const int column_block = r.id / kRuns;
  const uint32_t dst_run = dst + column_block * L::kKeys * 128 + (r.id % kRuns) * kTmaRunKeys * 128;
  if (r.whole) {
    sm90::MbarArriveExpectTx(bar, kTmaRunKeys * 128);
    sm90::TmaLoad3d(dst_run, maps.run, column_block * 64, kv_head, r.rows[0], bar);
    return;
  }
  bool gathered = false, zeroed = false;
#pragma unroll
  for (int i = 0; i < TmaRun::kMaxBoxes; ++i) {
    if (i * box_keys >= kTmaRunKeys) break;
    const int k = r.key + i * box_keys;
    const uint32_t box = dst_run + i * box_keys * 128;
    if (k + box_keys <= end) {
      sm90::MbarExpectTx(bar, box_keys * 128);
      sm90::TmaLoad3d(box, maps.block, column_block * 64, kv_head, r.rows[i], bar);
    } else if (k < end) {
      const char* src =
          static_cast<const char*>(cache) +
          ((static_cast<int64_t>(r.rows[i]) * p.num_kv_heads + kv_head) * D + column_block * 64) *
              2;
      const int64_t row_bytes = static_cast<int64_t>(p.num_kv_heads) * D * 2;
      for (int j = 0; j < box_keys; ++j)
#pragma unroll
        for (int c = 0; c < 8; ++c)  // the 128-byte swizzle: chunk c of row j at c ^ (j % 8)
          CpAsync16(box + j * 128 + ((c ^ (j & 7)) << 4),
                    k + j < end ? src + j * row_bytes + c * 16 : cache, k + j < end);
      gathered = true;
    } else {
      for (uint32_t offset = 0; offset < box_keys * 128u; offset += 16)
        asm volatile("st.shared.v4.u32 [%0], {%1, %1, %1, %1};\n" ::"r"(box + offset), "r"(0)
                     : "memory");
      zeroed = true;
    }
  }
  if (zeroed) sm90::FenceProxyAsync();  // zeros written by the generic proxy, read by wgmma
  if (gathered)
    sm90::MbarArriveOnCpAsync(bar);
  else
    sm90::MbarArrive(bar);
}

// Producer of one item (the `round`-th of the CTA): its Q tile once the consumers of the item
// that used the same Q buffer before are done with it (QSlot), then its K and V tiles.
template <typename T, int D, bool kTma>
__device__ __forceinline__ void Produce(const FlashParams& p, const ItemView& v, int round,
                                        uint32_t base, const Barriers<D>& bars, TmaMaps k_maps,
                                        TmaMaps v_maps, int box_keys, int tid) {
  using L = Sm90Tile<D>;
  const QSlot qs = QSlotOf<D>(p, bars, round);
  if (qs.use > 0) sm90::MbarWait(qs.empty, (qs.use - 1) & 1);
  const T* q = static_cast<const T*>(p.q);
  const T* q_sink = static_cast<const T*>(p.q_sink);
  const bool load_sink_query = v.num_sink_tiles > 0 && qs.sink != qs.q;
  for (int i = tid; i < L::kRows * L::kChunks; i += 128) {
    const int r = i / L::kChunks, c = i % L::kChunks;
    const int row = v.item.row_begin + r;
    const bool valid = row < v.num_rows;
    const int64_t offset =
        valid ? (static_cast<int64_t>(v.chunk.q_start + row / v.group) * p.num_heads +
                 v.item.kv_head * v.group + row % v.group) *
                        D +
                    c * 8
              : 0;
    const uint32_t at = sm90::SwizzledOffset(L::kRows, r, c);
    CpAsync16(base + qs.q + at, q + offset, valid);
    if (load_sink_query) CpAsync16(base + qs.sink + at, q_sink + offset, valid);
  }
  sm90::MbarArriveOnCpAsync(qs.full);

  const int32_t* table = p.block_tables + v.chunk.block_table_offset;
  const T* k_cache = static_cast<const T*>(p.k_cache);
  const T* v_cache = static_cast<const T*>(p.v_cache);
  // K before V of each tile, each into its own ring as soon as its stage is free.
  for (int t = 0; t < v.num_tiles; ++t) {
    const int n0 = v.TileBegin(t, L::kKeys);
    const int end = t < v.num_sink_tiles ? v.item.sink_end : v.item.key_end;
    const int slot = v.first_tile + t;
    if (kTma && n0 % box_keys == 0) {
      const TmaRun run = PlanTmaRun<D>(p, table, n0, end, box_keys, tid);
      bars.k.WaitEmpty(slot);
      TmaTile<D>(k_maps, k_cache, bars.k.tile(slot), bars.k.full(slot), p, v.item.kv_head, run, end,
                 box_keys);
      bars.v.WaitEmpty(slot);
      TmaTile<D>(v_maps, v_cache, bars.v.tile(slot), bars.v.full(slot), p, v.item.kv_head, run, end,
                 box_keys);
      continue;
    }
    bars.k.WaitEmpty(slot);
    GatherTile<T, D>(k_cache, bars.k.tile(slot), p, table, v.item.kv_head, n0, end, tid);
    sm90::MbarArriveOnCpAsync(bars.k.full(slot));
    bars.v.WaitEmpty(slot);
    GatherTile<T, D>(v_cache, bars.v.tile(slot), p, table, v.item.kv_head, n0, end, tid);
    sm90::MbarArriveOnCpAsync(bars.v.full(slot));
  }
}

// Consumer state of one thread: rows row0 and row0 + 8 of the CTA tile.
template <typename T, int D>
struct Softmax {
  static constexpr int kKeys = Sm90Tile<D>::kKeys;
  int row_pos[2], row_window[2], row_sinks[2];
  int min_pos, max_window;
  float scale_log2;
  float m[2] = {-INFINITY, -INFINITY};
  float l[2] = {0.0f, 0.0f};

  // Masks S (a kKeys-key tile starting at n0) to what each row sees, turns it into
  // probabilities relative to the updated running max, and returns the rescale factors of the
  // old accumulator in alpha.
  __device__ __forceinline__ void Update(float (&s)[kKeys / 2], int n0, bool sink_tile, int key_end,
                                         int lane, float (&alpha)[2]) {
    const int key_lane = n0 + 2 * (lane % 4);
    if (sink_tile) {
#pragma unroll
      for (int i = 0; i < kKeys / 2; ++i) {
        const int key = key_lane + 8 * (i / 4) + (i & 1);
        if (key >= row_sinks[(i >> 1) & 1]) s[i] = -INFINITY;
      }
    } else if (n0 + kKeys > key_end || n0 + kKeys - 1 > min_pos || n0 < max_window) {
#pragma unroll
      for (int i = 0; i < kKeys / 2; ++i) {
        const int key = key_lane + 8 * (i / 4) + (i & 1);
        const int h = (i >> 1) & 1;
        if (key >= key_end || key > row_pos[h] || key < row_window[h]) s[i] = -INFINITY;
      }
    }
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float mx = -INFINITY;
#pragma unroll
      for (int j = 0; j < kKeys / 8; ++j)
        mx = fmaxf(mx, fmaxf(s[4 * j + 2 * h], s[4 * j + 2 * h + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float m_new = fmaxf(m[h], mx * scale_log2);
      const float base = m_new == -INFINITY ? 0.0f : m_new;
      alpha[h] = Exp2(m[h] - base);
      m[h] = m_new;
      float sum = 0.0f;
#pragma unroll
      for (int j = 0; j < kKeys / 8; ++j)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          float& x = s[4 * j + 2 * h + e];
          x = Exp2(fmaf(x, scale_log2, -base));
          sum += x;
        }
      l[h] = l[h] * alpha[h] + sum;
    }
  }
};

template <typename T, int N>
__device__ __forceinline__ void ToOperandA(const float (&s)[N / 2], uint32_t (&a)[N / 16][4]) {
#pragma unroll
  for (int kc = 0; kc < N / 16; ++kc) {
    a[kc][0] = PackPair<T>(s[8 * kc + 0], s[8 * kc + 1]);
    a[kc][1] = PackPair<T>(s[8 * kc + 2], s[8 * kc + 3]);
    a[kc][2] = PackPair<T>(s[8 * kc + 4], s[8 * kc + 5]);
    a[kc][3] = PackPair<T>(s[8 * kc + 6], s[8 * kc + 7]);
  }
}

template <int N>
__device__ __forceinline__ void Rescale(float (&o)[N], const float (&alpha)[2]) {
#pragma unroll
  for (int i = 0; i < N; ++i) o[i] *= alpha[(i >> 1) & 1];
}

template <typename T, int D>
__device__ __forceinline__ void IssueQK(float (&s)[Sm90Tile<D>::kKeys / 2], uint32_t q_tile,
                                        uint32_t k_tile) {
  using L = Sm90Tile<D>;
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk)
    sm90::Wgmma<T, L::kKeys>::SS(
        s, sm90::SmemDesc(q_tile + (kk / 4) * L::kRows * 128 + (kk % 4) * 32, 16, 1024),
        sm90::SmemDesc(k_tile + (kk / 4) * L::kKeys * 128 + (kk % 4) * 32, 16, 1024), kk > 0);
}

template <typename T, int D>
__device__ __forceinline__ void IssuePV(float (&o)[D / 2],
                                        const uint32_t (&a)[Sm90Tile<D>::kKeys / 16][4],
                                        uint32_t v_tile) {
  using L = Sm90Tile<D>;
#pragma unroll
  for (int kc = 0; kc < L::kKeys / 16; ++kc)
    sm90::Wgmma<T, D>::RS(o, a[kc], sm90::SmemDesc(v_tile + kc * 16 * 128, L::kKeys * 128, 1024),
                          true);
}

// Named barriers 1 and 2 (0 is __syncthreads): consumer warpgroup w waits on 1 + w for its turn
// to issue and hands the turn over by arriving on the other one.
__device__ __forceinline__ void TurnWait(int wg) {
  asm volatile("bar.sync %0, 256;\n" ::"r"(1 + wg) : "memory");
}
__device__ __forceinline__ void TurnPass(int wg) {
  asm volatile("bar.arrive %0, 256;\n" ::"r"(2 - wg) : "memory");
}

// Consumers of one item (the `round`-th of the CTA). Each warp releases the item's Q buffer after
// its last Q.K^T, so that the producer can refill it while this item's P.V and epilogue run.
template <typename T, int D, Sm90Schedule kSchedule>
__device__ __forceinline__ void Consume(const FlashParams& p, const ItemView& v, int round,
                                        uint32_t base, const Barriers<D>& bars, int wg, int tid) {
  using L = Sm90Tile<D>;
  constexpr int kKeys = L::kKeys;
  const int warp = tid / 32, lane = tid % 32;
  const int row0 = 64 * wg + 16 * warp + lane / 4;
  Softmax<T, D> sm;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int row = v.item.row_begin + row0 + 8 * h;
    // Rows past the chunk see every key (never written).
    sm.row_pos[h] = row < v.num_rows ? v.chunk.num_computed + row / v.group : INT_MAX;
    sm.row_window[h] =
        row < v.num_rows && v.chunk.window > 0 ? max(0, sm.row_pos[h] - v.chunk.window + 1) : 0;
    sm.row_sinks[h] = min(v.chunk.num_sinks, sm.row_window[h]);
  }
  sm.min_pos = min(sm.row_pos[0], sm.row_pos[1]);
  sm.max_window = max(sm.row_window[0], sm.row_window[1]);
  sm.scale_log2 = p.scale * 1.4426950408889634f;

  float o[D / 2];
#pragma unroll
  for (int i = 0; i < D / 2; ++i) o[i] = 0.0f;
  float s[kKeys / 2];
  uint32_t pa[kKeys / 16][4];
  float alpha[2];
  const uint32_t wg_rows = 64 * wg * 128;  // this warpgroup's first row in each column block
  const QSlot qs = QSlotOf<D>(p, bars, round);
  auto q_tile = [&](int t) { return base + (t < v.num_sink_tiles ? qs.sink : qs.q) + wg_rows; };
  auto tile_end = [&](int t) { return t < v.num_sink_tiles ? v.item.sink_end : v.item.key_end; };
  sm90::MbarWait(qs.full, qs.use & 1);
  const int f = v.first_tile;  // ring slot of tile 0

  if (v.num_tiles == 0 && lane == 0) sm90::MbarArrive(qs.empty);
  if (v.num_tiles > 0) {
    constexpr bool kTurns = kSchedule == Sm90Schedule::kPingPong;
    // Tile 0: scores and probabilities only; its P.V is issued together with tile 1's Q.K^T.
    // Ping-pong: the first warpgroup takes the first turn of the CTA. Both warpgroups take
    // num_tiles turns per item, so the second one's last hand-over of an item is the first
    // turn of the next; the last one is never waited for (the CTA ends).
    if (kTurns && wg == 1 && f == 0) TurnPass(wg);
    sm90::MbarWait(bars.k.full(f), bars.k.parity(f));
    sm90::FenceProxyAsync();
    if (kTurns) TurnWait(wg);
    sm90::WgmmaFence();
    IssueQK<T, D>(s, q_tile(0), bars.k.tile(f));
    sm90::WgmmaCommit();
    if (kTurns) TurnPass(wg);
    sm90::WgmmaWait<0>();
    sm90::FenceRegisters(s);
    if (lane == 0) {
      sm90::MbarArrive(bars.k.empty(f));
      if (v.num_tiles == 1) sm90::MbarArrive(qs.empty);
    }
    sm.Update(s, v.TileBegin(0, kKeys), 0 < v.num_sink_tiles, tile_end(0), lane, alpha);
    ToOperandA<T, kKeys>(s, pa);
    for (int t = 1; t < v.num_tiles; ++t) {
      sm90::MbarWait(bars.k.full(f + t), bars.k.parity(f + t));
      sm90::MbarWait(bars.v.full(f + t - 1), bars.v.parity(f + t - 1));
      sm90::FenceProxyAsync();
      sm90::FenceRegisters(o);
      if (kTurns) TurnWait(wg);
      sm90::WgmmaFence();
      IssueQK<T, D>(s, q_tile(t), bars.k.tile(f + t));
      sm90::WgmmaCommit();
      IssuePV<T, D>(o, pa, bars.v.tile(f + t - 1));
      sm90::WgmmaCommit();
      if (kTurns) TurnPass(wg);
      sm90::WgmmaWait<1>();  // Q.K^T of tile t done; P.V of tile t - 1 may still run
      sm90::FenceRegisters(s);
      sm.Update(s, v.TileBegin(t, kKeys), t < v.num_sink_tiles, tile_end(t), lane, alpha);
      // The release branch sits between the softmax and the wait for P.V on purpose: with the
      // wait right after the softmax (one basic block) ptxas hoisted it above the
      // exponentials (SASS, H100, 2026-12-06), and nothing overlapped.
      sm90::FenceRegisters(s);
      if (lane == 0) {
        sm90::MbarArrive(bars.k.empty(f + t));
        if (t == v.num_tiles - 1) sm90::MbarArrive(qs.empty);
      }
      sm90::WgmmaWait<0>();
      sm90::FenceRegisters(o);
      if (lane == 0) sm90::MbarArrive(bars.v.empty(f + t - 1));
      Rescale(o, alpha);
      ToOperandA<T, kKeys>(s, pa);
    }
    const int last = f + v.num_tiles - 1;
    sm90::MbarWait(bars.v.full(last), bars.v.parity(last));
    sm90::FenceProxyAsync();
    sm90::FenceRegisters(o);
    sm90::WgmmaFence();
    IssuePV<T, D>(o, pa, bars.v.tile(last));
    sm90::WgmmaCommit();
    sm90::WgmmaWait<0>();
    sm90::FenceRegisters(o);
    if (lane == 0) sm90::MbarArrive(bars.v.empty(last));
  }

  float l[2] = {sm.l[0], sm.l[1]};
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    l[h] += __shfl_xor_sync(0xffffffffu, l[h], 1);
    l[h] += __shfl_xor_sync(0xffffffffu, l[h], 2);
  }
  T* out = static_cast<T*>(p.o);
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int row = v.item.row_begin + row0 + 8 * h;
    if (row >= v.num_rows) continue;
    const int token = v.chunk.q_start + row / v.group;
    const int head = v.item.kv_head * v.group + row % v.group;
    const float inv = l[h] > 0.0f ? 1.0f / l[h] : 0.0f;
    T* dst = out + (static_cast<int64_t>(token) * p.num_heads + head) * D + 2 * (lane % 4);
#pragma unroll
    for (int j = 0; j < D / 8; ++j)
      *reinterpret_cast<uint32_t*>(dst + 8 * j) =
          PackPair<T>(o[4 * j + 2 * h] * inv, o[4 * j + 2 * h + 1] * inv);
  }
}

#endif  // JUNCTION_SM90A

// The caches as 3-D tensors [num_blocks * block_size][num_kv_heads][D] (see EncodeCacheMap), in
// boxes of box_keys keys and of kTmaRunKeys keys, for kTma; unused otherwise.
struct CacheMaps {
  CUtensorMap k_block, k_run, v_block, v_run;
};

template <typename T, int D, Sm90Schedule kSchedule, bool kTma>
__global__ void __launch_bounds__(384, 1)
    FlashPrefillSm90Kernel(const FlashParams p, const __grid_constant__ CacheMaps maps,
                           int box_keys) {
#ifdef JUNCTION_SM90A
  using L = Sm90Tile<D>;
  extern __shared__ unsigned char smem_raw[];
  const uint32_t base = (SmemAddr(smem_raw) + 1023) & ~1023u;
  const Barriers<D> bars(base);
  if (threadIdx.x == 0) {
    // Full: one arrival per producer thread; empty: one arrival per consumer warp.
    for (int b = 0; b < 2; ++b) {
      sm90::MbarInit(bars.q_full + 8 * b, 128);
      sm90::MbarInit(bars.q_empty + 8 * b, 8);
    }
    bars.k.Init(128, 8);
    bars.v.Init(128, 8);
  }
  __syncthreads();
  // Persistent: the CTA walks its items (ItemIndex); producer and consumers count the same
  // tiles, so their ring slots agree.
  const int wg = threadIdx.x / 128;
  int first_tile = 0;
  if (wg == 0) {
    // 128 x 56 + 256 x 224 is the 168 x 384 registers the CTA starts with; setmaxnreg cannot
    // grow past that pool (a split asking for more, like 32 / 240, hangs). At 40 the
    // persistent producer spilled.
    sm90::RegDealloc<56>();
    for (int round = 0, i = ItemIndex(0); i < p.num_items; i = ItemIndex(++round)) {
      const ItemView v = MakeItemView<D>(p, i, first_tile);
      Produce<T, D, kTma>(p, v, round, base, bars, {&maps.k_block, &maps.k_run},
                          {&maps.v_block, &maps.v_run}, box_keys, threadIdx.x);
      first_tile += v.num_tiles;
    }
    asm volatile("cp.async.wait_all;\n" ::: "memory");
  } else {
    sm90::RegAlloc<224>();
    for (int round = 0, i = ItemIndex(0); i < p.num_items; i = ItemIndex(++round)) {
      const ItemView v = MakeItemView<D>(p, i, first_tile);
      Consume<T, D, kSchedule>(p, v, round, base, bars, wg - 1, threadIdx.x % 128);
      first_tile += v.num_tiles;
    }
  }
#endif
}

// An attribute of the current device, queried once per device; -1 when it cannot be read.
template <cudaDeviceAttr kAttribute>
int CurrentDeviceAttribute() {
  constexpr int kMaxDevices = 64;
  static std::atomic<int> cached[kMaxDevices] = {};  // 0 = not queried yet
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess || device < 0 || device >= kMaxDevices) return -1;
  if (cached[device].load() == 0) {
    int value = -1;
    if (cudaDeviceGetAttribute(&value, kAttribute, device) != cudaSuccess) return -1;
    cached[device].store(value);
  }
  return cached[device].load();
}

template <typename T, int D, Sm90Schedule kSchedule, bool kTma>
void Launch(const FlashParams& p, const CacheMaps& maps, int box_keys, cudaStream_t stream) {
  constexpr size_t smem = Sm90Tile<D>::kSmemBytes;
  auto kernel = FlashPrefillSm90Kernel<T, D, kSchedule, kTma>;
  static const bool configured = [&] {
    cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    return true;
  }();
  (void)configured;
  // One CTA per SM (its shared memory allows no second), each walking its share of the items.
  // Without the SM count, one CTA per item (the loop over items serves any grid).
  const int sms = CurrentDeviceAttribute<cudaDevAttrMultiProcessorCount>();
  const int grid = sms > 0 ? std::min(p.num_items, sms) : p.num_items;
  if (grid > 0) kernel<<<grid, Sm90Tile<D>::kThreads, smem, stream>>>(p, maps, box_keys);
}

// The driver's tensor-map encoder, reached through the runtime so that nothing links libcuda.
PFN_cuTensorMapEncodeTiled_v12000 TensorMapEncoder() {
  static const PFN_cuTensorMapEncodeTiled_v12000 encode = [] {
    void* fn = nullptr;
    cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSymbolNotFound;
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault,
                                         &found) != cudaSuccess ||
        found != cudaDriverEntryPointSuccess)
      return PFN_cuTensorMapEncodeTiled_v12000{nullptr};
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(fn);
  }();
  return encode;
}

// A cache [num_blocks][block_size][num_kv_heads][D] as the 3-D tensor (D, num_kv_heads, rows),
// innermost first, in boxes of 64 columns x 1 head x box_keys rows, 128-byte swizzled like
// the kernel's tiles. Returns an empty string or why it cannot be encoded.
const char* EncodeCacheMap(const void* cache, const FlashParams& p, DType dtype, int box_keys,
                           CUtensorMap* map) {
  const int64_t rows = static_cast<int64_t>(p.num_blocks) * p.block_size;
  if (p.num_blocks <= 0) return "the cache's block count is unknown (FlashParams::num_blocks)";
  if (p.block_size % kTmaMinBoxKeys != 0) return "block_size is not a multiple of 8";
  if (rows > INT32_MAX) return "the cache has more than 2^31 rows";
  if (reinterpret_cast<uintptr_t>(cache) % 16 != 0) return "the cache is not 16-byte aligned";
  const PFN_cuTensorMapEncodeTiled_v12000 encode = TensorMapEncoder();
  if (encode == nullptr) return "the driver has no cuTensorMapEncodeTiled";
  const cuuint64_t dims[3] = {static_cast<cuuint64_t>(p.head_dim),
                              static_cast<cuuint64_t>(p.num_kv_heads),
                              static_cast<cuuint64_t>(rows)};
  const cuuint64_t strides[2] = {static_cast<cuuint64_t>(p.head_dim) * 2,  // bytes, dims 1, 2
                                 static_cast<cuuint64_t>(p.num_kv_heads) * p.head_dim * 2};
  const cuuint32_t box[3] = {64, 1, static_cast<cuuint32_t>(box_keys)};
  const cuuint32_t element_strides[3] = {1, 1, 1};
  const CUtensorMapDataType type =
      dtype == DType::kBF16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16;
  const CUresult result =
      encode(map, type, 3, const_cast<void*>(cache), dims, strides, box, element_strides,
             CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
             CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  return result == CUDA_SUCCESS ? "" : "cuTensorMapEncodeTiled failed";
}

// All four maps of `maps`, or why they cannot be encoded. Where the block box is already a run
// (block_size % kTmaRunKeys == 0) the run maps are copies, not encoded again at every launch.
const char* EncodeCacheMaps(const FlashParams& p, DType dtype, int box_keys, CacheMaps* maps) {
  const bool same = box_keys == sm90::kTmaRunKeys;
  const char* why = EncodeCacheMap(p.k_cache, p, dtype, box_keys, &maps->k_block);
  if (*why == '\0') why = EncodeCacheMap(p.v_cache, p, dtype, box_keys, &maps->v_block);
  if (*why != '\0' || same) {
    maps->k_run = maps->k_block;
    maps->v_run = maps->v_block;
    return why;
  }
  why = EncodeCacheMap(p.k_cache, p, dtype, sm90::kTmaRunKeys, &maps->k_run);
  return *why == '\0' ? EncodeCacheMap(p.v_cache, p, dtype, sm90::kTmaRunKeys, &maps->v_run) : why;
}

template <typename T, int D, Sm90Schedule kSchedule>
void LaunchWith(const FlashParams& p, DType dtype, cudaStream_t stream, Sm90Producer producer) {
  CacheMaps maps = {};
  const int box_keys = sm90::TmaBoxKeys(p.block_size);
  if (producer == Sm90Producer::kTma) {
    const char* why = EncodeCacheMaps(p, dtype, box_keys, &maps);
    if (*why == '\0') return Launch<T, D, kSchedule, true>(p, maps, box_keys, stream);
    static std::atomic_flag said = ATOMIC_FLAG_INIT;  // once per instantiation, not per step
    if (!said.test_and_set())
      std::fprintf(stderr,
                   "junction: flash prefill (sm90): TMA producer unavailable (%s); "
                   "using the cp.async producer\n",
                   why);
  }
  Launch<T, D, kSchedule, false>(p, maps, box_keys, stream);
}

template <typename T, int D>
void LaunchSchedule(const FlashParams& p, DType dtype, cudaStream_t stream, Sm90Producer producer,
                    Sm90Schedule schedule) {
  switch (schedule) {
    case Sm90Schedule::kOverlap:
      return LaunchWith<T, D, Sm90Schedule::kOverlap>(p, dtype, stream, producer);
    case Sm90Schedule::kPingPong:
      return LaunchWith<T, D, Sm90Schedule::kPingPong>(p, dtype, stream, producer);
  }
}

}  // namespace

bool FlashPrefillSm90Supported(int head_dim) {
  if (head_dim != 64 && head_dim != 128) return false;
  return CurrentDeviceAttribute<cudaDevAttrComputeCapabilityMajor>() == 9;
}

std::string FlashPrefillSm90TmaUnavailable(const FlashParams& p, DType dtype) {
  CacheMaps maps = {};
  return EncodeCacheMaps(p, dtype, sm90::TmaBoxKeys(p.block_size), &maps);
}

void LaunchFlashPrefillSm90(const FlashParams& p, DType dtype, cudaStream_t stream,
                            Sm90Producer producer, Sm90Schedule schedule) {
  JUNCTION_DISPATCH_HALF(dtype, {
    if (p.head_dim == 64)
      LaunchSchedule<T, 64>(p, dtype, stream, producer, schedule);
    else if (p.head_dim == 128)
      LaunchSchedule<T, 128>(p, dtype, stream, producer, schedule);
  });
}

}  // namespace junction::cuda
