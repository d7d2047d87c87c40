// CpuAttentionLayer ("cpu.flash", "cpu.window") against the float64 window-attention reference:
// trained windows, StreamingLLM sinks + window (positions follow the cache), NoPE, GQA, partial
// RoPE; two requests per batch, prefill in chunks across block boundaries, then decode, with
// blocks that leave the window released (BlockId{}) and handed to the other request.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <sstream>

#include "backends/cpu/cpu_backends.h"
#include "tests/reference/window_attention_reference.h"

namespace junction::cpu {
namespace {

constexpr int kHidden = 48;
constexpr int kBlockSize = 16;

struct Case {
  const char* name;
  MixerKind kind;
  int layer_window;
  AttentionPolicy policy;
  RopeType rope;
  int rotary_dim;
  int num_heads, num_kv_heads, head_dim;
};

AttentionPolicy Window(int window, int sinks) {
  return {AttentionPolicy::Mode::kWindow, window, sinks};
}

const Case kCases[] = {
    {"trained window 16", MixerKind::kSlidingWindow, 16, {}, RopeType::kDefault, 16, 4, 2, 16},
    {"StreamingLLM W24 S4", MixerKind::kAttention, 0, Window(24, 4), RopeType::kDefault, 16, 4, 2,
     16},
    {"StreamingLLM W17 S3 partial RoPE, GQA 4:1", MixerKind::kAttention, 0, Window(17, 3),
     RopeType::kDefault, 8, 4, 1, 16},
    {"window policy on a sliding layer min(16, 40) S2", MixerKind::kSlidingWindow, 16,
     Window(40, 2), RopeType::kDefault, 16, 4, 2, 16},
    {"NoPE W20 S5", MixerKind::kAttention, 0, Window(20, 5), RopeType::kNone, 0, 2, 2, 8},
    {"StreamingLLM W32 no sinks", MixerKind::kAttention, 0, Window(32, 0), RopeType::kDefault, 16,
     4, 2, 16},
    {"full causal", MixerKind::kAttention, 0, {}, RopeType::kDefault, 16, 4, 2, 16},
};

std::vector<float> Random(std::mt19937& rng, size_t n, float bound) {
  std::uniform_real_distribution<float> u(-bound, bound);
  std::vector<float> out(n);
  for (float& v : out) v = u(rng);
  return out;
}

// One request's progress through the layer.
struct Request {
  std::vector<float> x;  // [length, hidden]
  int length = 0;
  int chunk = 0;  // prefill chunk (0 = whole prefill); the last min(3, length - 1) tokens decode
  int done = 0;
  std::vector<BlockId> table;
  std::vector<float> out;  // [length, hidden], filled as computed

  int NextCount() const {
    const int prefill = length - std::min(3, length - 1);
    if (done >= prefill) return 1;
    return chunk > 0 ? std::min(chunk, prefill - done) : prefill - done;
  }
};

struct Harness {
  Case c;
  ModelSpec model;
  MixerSpec mixer;
  std::unique_ptr<WeightStore> weights;
  std::unique_ptr<MixerLayer> layer;
  std::vector<BlockId> free_blocks;

  int EffectiveWindow() const {
    const bool policy = c.policy.mode == AttentionPolicy::Mode::kWindow;
    if (c.layer_window > 0 && policy) return std::min(c.layer_window, c.policy.window);
    return c.layer_window > 0 ? c.layer_window : policy ? c.policy.window : 0;
  }
  int Sinks() const {
    return c.policy.mode == AttentionPolicy::Mode::kWindow ? c.policy.num_sinks : 0;
  }

  // Grows the table to cover `end` tokens and releases blocks wholly before the window of the
  // query at `first_query` that hold no sink.
  void UpdateBlocks(Request& r, int first_query, int end) {
    while (static_cast<int>(r.table.size()) * kBlockSize < end) {
      REQUIRE(!free_blocks.empty());
      r.table.push_back(free_blocks.back());
      free_blocks.pop_back();
    }
    const int window = EffectiveWindow();
    if (window == 0) return;
    const int window_begin = std::max(0, first_query - window + 1);
    for (int b = 0; b < static_cast<int>(r.table.size()); ++b) {
      const bool before_window = (b + 1) * kBlockSize <= window_begin;
      const bool holds_sink = b * kBlockSize < Sinks();
      if (before_window && !holds_sink && r.table[b].valid()) {
        free_blocks.push_back(r.table[b]);
        r.table[b] = BlockId{};
      }
    }
  }
};

Harness MakeHarness(const Case& c, int num_blocks, std::mt19937& rng) {
  Harness h{c};
  h.model.hidden_size = kHidden;
  AttentionSpec attn;
  attn.num_heads = c.num_heads;
  attn.num_kv_heads = c.num_kv_heads;
  attn.head_dim = c.head_dim;
  attn.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  attn.rope.type = c.rope;
  attn.rope.rotary_dim = c.rotary_dim;
  attn.sliding_window = c.layer_window;
  h.mixer = MixerSpec{c.kind, attn, "l."};
  const int64_t q = int64_t{c.num_heads} * c.head_dim, kv = int64_t{c.num_kv_heads} * c.head_dim;
  h.weights = WeightStore::FromFloatTensors(
      {{"l.q_proj.weight", {{q, kHidden}, Random(rng, q * kHidden, 0.5f)}},
       {"l.k_proj.weight", {{kv, kHidden}, Random(rng, kv * kHidden, 0.5f)}},
       {"l.v_proj.weight", {{kv, kHidden}, Random(rng, kv * kHidden, 0.5f)}},
       {"l.o_proj.weight", {{kHidden, q}, Random(rng, kHidden * q, 0.2f)}}});
  BackendRegistry registry;
  RegisterCpuBackends(registry);
  auto selection = registry.Select(h.mixer, DeviceInfo{});
  REQUIRE(selection.ok());
  LayerContext context{&h.model, 0, &h.mixer, h.weights.get(), {kBlockSize, num_blocks, 0}};
  auto layer = selection->backend->CreateLayer(context);
  REQUIRE(layer.ok());
  h.layer = std::move(*layer);
  // Shuffled physical ids so that logical and physical blocks differ.
  for (int b = 0; b < num_blocks; ++b) h.free_blocks.push_back(BlockId(b));
  std::shuffle(h.free_blocks.begin(), h.free_blocks.end(), rng);
  return h;
}

// Runs both requests to completion, one piece each per step, into their `out`.
void RunRequests(Harness& h, std::vector<Request>& requests) {
  while (true) {
    StepBatch batch;
    std::vector<float> x;
    std::vector<int> owner;
    for (int i = 0; i < static_cast<int>(requests.size()); ++i) {
      Request& r = requests[i];
      if (r.done == r.length) continue;
      const int count = r.NextCount();
      h.UpdateBlocks(r, r.done, r.done + count);
      ScheduledChunk chunk;
      chunk.request = RequestId(i);
      chunk.first_token = batch.num_tokens();
      chunk.num_tokens = count;
      chunk.num_computed = r.done;
      chunk.block_table = r.table;
      chunk.policy = h.c.policy;
      batch.chunks.push_back(chunk);
      batch.token_ids.insert(batch.token_ids.end(), count, 0);
      x.insert(x.end(), r.x.begin() + int64_t{r.done} * kHidden,
               r.x.begin() + int64_t{r.done + count} * kHidden);
      owner.push_back(i);
    }
    if (batch.chunks.empty()) return;
    std::vector<float> out(x.size(), std::nanf(""));
    REQUIRE(h.layer->Plan(batch).ok());
    h.layer->Run({x.data(), DType::kF32, batch.num_tokens(), kHidden},
                 {out.data(), DType::kF32, batch.num_tokens(), kHidden});
    for (size_t c = 0; c < batch.chunks.size(); ++c) {
      Request& r = requests[owner[c]];
      const ScheduledChunk& chunk = batch.chunks[c];
      std::copy_n(out.begin() + int64_t{chunk.first_token} * kHidden,
                  int64_t{chunk.num_tokens} * kHidden, r.out.begin() + int64_t{r.done} * kHidden);
      r.done += chunk.num_tokens;
    }
  }
}

// Per element |out - ref| <= 1e-4 (1 + |ref|), relative L2 <= 1e-5, no NaN.
void Compare(const std::vector<float>& out, const std::vector<double>& ref,
             const std::string& what) {
  REQUIRE(out.size() == ref.size());
  double err2 = 0, ref2 = 0, worst = 0;
  size_t worst_at = 0, nans = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (std::isnan(out[i])) ++nans;
    const double d = std::fabs(out[i] - ref[i]);
    err2 += d * d;
    ref2 += ref[i] * ref[i];
    const double excess = d / (1.0 + std::fabs(ref[i]));
    if (excess > worst) worst = excess, worst_at = i;
  }
  INFO(what << ": worst element " << worst_at << " (row " << worst_at / kHidden << ") scaled error "
            << worst << ", relative L2 " << std::sqrt(err2 / ref2) << ", NaNs " << nans);
  CHECK(nans == 0);
  CHECK(worst <= 1e-4);
  CHECK(std::sqrt(err2 / std::max(ref2, 1e-30)) <= 1e-5);
}

}  // namespace

TEST_CASE("window attention matches the float64 reference", "[attention][window]") {
  std::mt19937 rng(20240607);
  for (const Case& c : kCases) {
    for (int length : {1, 3, 17, 63, 65, 129, 1000}) {
      for (int chunk : {0, 16, 37}) {
        if (length == 1000 && chunk == 16) continue;  // 0 and 37 cover it; keeps the test fast
        std::ostringstream what;
        what << c.name << ", length " << length << ", prefill chunk " << chunk;
        INFO(what.str());
        const int other_length = length / 2 + 1;
        const int num_blocks = (length + other_length) / kBlockSize + 8;
        Harness h = MakeHarness(c, num_blocks, rng);
        std::vector<Request> requests(2);
        requests[0].length = length;
        requests[0].chunk = chunk;
        requests[1].length = other_length;
        requests[1].chunk = chunk > 0 ? 29 : 0;
        for (Request& r : requests) {
          r.x = Random(rng, size_t{1} * r.length * kHidden, 1.0f);
          r.out.assign(r.x.size(), std::nanf(""));
        }
        RunRequests(h, requests);
        const AttentionSpec& spec = std::get<AttentionSpec>(h.mixer.params);
        const bool cache_positions = c.policy.mode == AttentionPolicy::Mode::kWindow;
        for (int i = 0; i < 2; ++i) {
          const Request& r = requests[i];
          const std::vector<double> x(r.x.begin(), r.x.end());
          const std::vector<double> ref =
              reference::AttentionLayerReference(spec, kHidden, *h.weights, "l.", x, r.length,
                                                 h.EffectiveWindow(), h.Sinks(), cache_positions);
          Compare(r.out, ref, what.str() + (i == 0 ? " (request 0)" : " (request 1)"));
        }
      }
    }
  }
}

// The reference's two position conventions differ once the window has left the sinks behind,
// so the test above can tell re-rotated sinks from sinks at their text positions.
TEST_CASE("StreamingLLM positions differ once the window moves", "[attention][window]") {
  std::mt19937 rng(7);
  reference::WindowAttentionProblem p;
  p.num_tokens = 40;
  p.num_heads = p.num_kv_heads = 1;
  p.head_dim = 8;
  p.q.resize(40 * 8);
  p.k.resize(40 * 8);
  p.v.resize(40 * 8);
  std::normal_distribution<double> n(0, 1);
  for (auto* v : {&p.q, &p.k, &p.v})
    for (double& e : *v) e = n(rng);
  p.inv_freq = {1.0, 0.1, 0.01, 0.001};
  p.rotary_dim = 8;
  p.scale = 0.35;
  p.window = 8;
  p.num_sinks = 2;
  const std::vector<double> text = reference::WindowAttentionReference(p);
  p.cache_positions = true;
  const std::vector<double> cache = reference::WindowAttentionReference(p);
  // Identical while the window still reaches the sinks (query < window + sinks) ...
  for (int i = 0; i < (8 + 2 - 1) * 8; ++i) CHECK(std::fabs(text[i] - cache[i]) < 1e-12);
  // ... and different afterwards.
  double diff = 0;
  for (int i = 20 * 8; i < 40 * 8; ++i) diff = std::max(diff, std::fabs(text[i] - cache[i]));
  CHECK(diff > 1e-3);
}

}  // namespace junction::cpu
