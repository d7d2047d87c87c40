#include "tests/support/fake_model_runner.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <set>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "engine/sampling/sampler.h"

namespace junction::testing {
namespace {

uint64_t Mix(uint64_t h) {
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

uint64_t Fold(uint64_t digest, TokenId token) {
  return Mix(digest * 31 + static_cast<uint64_t>(token) + 1);
}

// Keys position `p` sees: sinks [0, S) and the window [p - W + 1, p]; everything when W = 0.
struct View {
  int window = 0;
  int num_sinks = 0;
};

View ViewFor(const FakeModelOptions& options, const AttentionPolicy& policy) {
  View view{options.sliding_window, 0};
  if (policy.mode == AttentionPolicy::Mode::kWindow) {
    view.window = view.window > 0 ? std::min(view.window, policy.window) : policy.window;
    view.num_sinks = policy.num_sinks;
  }
  return view;
}

bool Sees(View view, int query, int key) {
  if (key > query) return false;
  if (view.window <= 0) return true;
  return key < view.num_sinks || key > query - view.window;
}

class DescriptorOnlyBackend : public MixerBackend {
 public:
  DescriptorOnlyBackend(std::string name, MixerKind kind, bool window_policy, std::string reject)
      : reject_(std::move(reject)) {
    descriptor_.name = std::move(name);
    descriptor_.kind = kind;
    descriptor_.window_policy = window_policy;
  }
  const BackendDescriptor& descriptor() const override { return descriptor_; }
  std::string Rejects(const MixerSpec& mixer, const DeviceInfo& device) const override {
    if (!reject_.empty()) return reject_;
    return MixerBackend::Rejects(mixer, device);
  }
  absl::StatusOr<std::unique_ptr<MixerLayer>> CreateLayer(const LayerContext&) const override {
    return absl::UnimplementedError("fake backends bind no layers");
  }

 private:
  BackendDescriptor descriptor_;
  std::string reject_;
};

}  // namespace

ModelSpec MakeFakeSpec(const FakeModelOptions& options) {
  ModelSpec spec;
  spec.architecture = "FakeForTests";
  spec.vocab_size = options.vocab_size;
  spec.hidden_size = 8;
  spec.max_context = options.max_context;
  spec.eos_token_ids = options.eos_token_ids;
  if (options.attention_layer) {
    AttentionSpec a;
    a.num_heads = 2;
    a.num_kv_heads = 1;
    a.head_dim = 8;
    a.sliding_window = options.sliding_window;
    LayerSpec layer;
    layer.mixer =
        MixerSpec{options.sliding_window > 0 ? MixerKind::kSlidingWindow : MixerKind::kAttention, a,
                  "fake.attention."};
    spec.layers.push_back(layer);
  }
  if (options.recurrent_layer) {
    Mamba2Spec m;
    m.num_heads = 2;
    m.head_dim = 4;
    m.state_size = 4;
    m.inner_size = 8;
    LayerSpec layer;
    layer.mixer = MixerSpec{MixerKind::kMamba2, m, "fake.recurrent."};
    spec.layers.push_back(layer);
  }
  return spec;
}

void RegisterFakeBackends(BackendRegistry& registry, const FakeModelOptions& options) {
  registry.Register(std::make_unique<DescriptorOnlyBackend>(
      "fake.other_attention", MixerKind::kAttention, true, "always busy"));
  registry.Register(std::make_unique<DescriptorOnlyBackend>("fake.attention", MixerKind::kAttention,
                                                            options.window_policy, ""));
  registry.Register(
      std::make_unique<DescriptorOnlyBackend>("fake.sliding", MixerKind::kSlidingWindow, true, ""));
  registry.Register(
      std::make_unique<DescriptorOnlyBackend>("fake.recurrent", MixerKind::kMamba2, false, ""));
}

uint64_t FakeDigest(std::span<const TokenId> tokens) {
  uint64_t digest = 0;
  for (TokenId t : tokens) digest = Fold(digest, t);
  return digest;
}

std::vector<float> FakeLogits(std::span<const TokenId> visible, uint64_t digest, int vocab_size) {
  uint64_t h = Mix(digest ^ 0x5bd1e995ULL);
  for (TokenId t : visible) h = Fold(h, t);
  std::vector<float> logits(vocab_size);
  for (int v = 0; v < vocab_size; ++v)
    logits[v] =
        static_cast<float>(Mix(h + static_cast<uint64_t>(v) * 0x9e3779b97f4a7c15ULL) % 997) / 50.0f;
  return logits;
}

namespace {

// The ids a request generates alone, each picked by `pick(logits, output so far)`.
std::vector<TokenId> ReferenceIds(
    const FakeModelOptions& options, const std::vector<TokenId>& prompt,
    const SamplingParams& params, const AttentionPolicy& policy,
    const std::function<TokenId(std::vector<float>&, const std::vector<TokenId>&)>& pick) {
  const View view = ViewFor(options, policy);
  std::vector<TokenId> tokens = prompt;
  std::vector<TokenId> output;
  while (static_cast<int>(output.size()) < params.max_tokens) {
    const int p = static_cast<int>(tokens.size()) - 1;
    std::vector<TokenId> visible;
    if (options.attention_layer)
      for (int j = 0; j <= p; ++j)
        if (Sees(view, p, j)) visible.push_back(tokens[j]);
    const uint64_t digest = options.recurrent_layer ? FakeDigest(tokens) : 0;
    std::vector<float> logits = FakeLogits(visible, digest, options.vocab_size);
    const TokenId id = pick(logits, output);
    output.push_back(id);
    tokens.push_back(id);
    const auto& eos = options.eos_token_ids;
    const auto& stop = params.stop_token_ids;
    if ((!params.ignore_eos && std::find(eos.begin(), eos.end(), id) != eos.end()) ||
        std::find(stop.begin(), stop.end(), id) != stop.end())
      break;
  }
  return output;
}

}  // namespace

std::vector<TokenId> FakeReferenceIds(const FakeModelOptions& options,
                                      const std::vector<TokenId>& prompt,
                                      const SamplingParams& params, const AttentionPolicy& policy) {
  Sampler sampler(params);
  return ReferenceIds(options, prompt, params, policy,
                      [&](std::vector<float>& logits, const std::vector<TokenId>& output) {
                        return sampler.Sample(logits, prompt, output).id;
                      });
}

std::vector<TokenId> FakeDeviceReferenceIds(const FakeModelOptions& options,
                                            const std::vector<TokenId>& prompt,
                                            const SamplingParams& params, uint64_t seed,
                                            const AttentionPolicy& policy) {
  return ReferenceIds(options, prompt, params, policy,
                      [&](std::vector<float>& logits, const std::vector<TokenId>& output) {
                        RowSampling row;
                        row.on_device = true;
                        row.temperature = params.temperature;
                        row.top_k = std::max(params.top_k, 0);
                        row.top_p = params.top_p;
                        row.min_p = params.min_p;
                        row.seed = seed;
                        row.offset = output.size();
                        return FakeDeviceSample(logits, row);
                      });
}

TokenId FakeDeviceSample(std::span<const float> logits, const RowSampling& row) {
  const int vocab = static_cast<int>(logits.size());
  if (row.temperature == 0.0f)
    return static_cast<TokenId>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  std::vector<int> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return logits[a] > logits[b]; });
  int keep = row.top_k > 0 ? std::min(row.top_k, vocab) : vocab;
  std::vector<double> probs(keep);
  double total = 0;
  for (int i = 0; i < keep; ++i)
    total += probs[i] = std::exp((double(logits[order[i]]) - logits[order[0]]) / row.temperature);
  while (row.min_p > 0 && keep > 1 && probs[keep - 1] < row.min_p * probs[0])
    total -= probs[--keep];
  if (row.top_p < 1) {
    double cumulative = 0;
    for (int i = 0; i < keep; ++i) {
      cumulative += probs[i] / total;
      if (cumulative >= row.top_p) {
        for (int j = i + 1; j < keep; ++j) total -= probs[j];
        keep = i + 1;
        break;
      }
    }
  }
  // Kept tokens in vocabulary order, as a GPU sampler walks them.
  std::vector<std::pair<int, double>> kept;
  for (int i = 0; i < keep; ++i) kept.push_back({order[i], probs[i]});
  std::sort(kept.begin(), kept.end());
  double target =
      static_cast<double>(Mix(row.seed ^ Mix(row.offset + 1)) >> 11) * 0x1.0p-53 * total;
  for (const auto& [id, p] : kept) {
    if (target < p) return id;
    target -= p;
  }
  return kept.back().first;
}

FakeModelRunner::FakeModelRunner(const FakeModelOptions& options, const CacheGeometry& cache)
    : options_(options), spec_(MakeFakeSpec(options)), cache_(cache) {
  device_.device_class = DeviceClass::kCpu;
  device_.name = "fake";
  kv_.resize(static_cast<size_t>(cache.num_blocks) * cache.block_size);
  slots_.resize(cache.num_state_slots);
}

std::vector<LayerBackend> FakeModelRunner::layer_backends() const {
  std::vector<LayerBackend> out;
  for (int i = 0; i < static_cast<int>(spec_.layers.size()); ++i) {
    const MixerKind kind = spec_.layers[i].mixer->kind;
    out.push_back({i, kind,
                   kind == MixerKind::kMamba2          ? "fake.recurrent"
                   : kind == MixerKind::kSlidingWindow ? "fake.sliding"
                                                       : "fake.attention"});
  }
  return out;
}

absl::Status FakeModelRunner::CheckLayout(const StepBatch& batch) const {
  int offset = 0;
  absl::flat_hash_set<RequestId> requests;
  absl::flat_hash_set<int> slots;
  std::set<std::pair<int, int>> written;
  const int bs = cache_.block_size;
  for (const ScheduledChunk& c : batch.chunks) {
    const std::string who = absl::StrCat("request ", c.request.value, ": ");
    if (c.first_token != offset || c.num_tokens < 1 || c.num_computed < 0)
      return absl::InternalError(who + "bad token offsets");
    offset += c.num_tokens;
    if (!requests.insert(c.request).second) return absl::InternalError(who + "twice in a step");
    if (c.policy.mode == AttentionPolicy::Mode::kWindow && !options_.window_policy)
      return absl::InternalError(who + "window policy on a backend without one");
    if (options_.recurrent_layer) {
      if (!c.state_slot.valid() || c.state_slot.value >= cache_.num_state_slots)
        return absl::InternalError(who + "no valid state slot");
      if (!slots.insert(c.state_slot.value).second)
        return absl::InternalError(who + "state slot shared in one step");
      const int held = slots_[c.state_slot.value].num_tokens;
      if (c.num_computed > 0 && held != c.num_computed)
        return absl::InternalError(absl::StrCat(who, "state slot holds ", held,
                                                " tokens, num_computed is ", c.num_computed));
    }
    if (!options_.attention_layer) continue;
    const int needed = (c.num_computed + c.num_tokens + bs - 1) / bs;
    if (static_cast<int>(c.block_table.size()) != needed)
      return absl::InternalError(
          absl::StrCat(who, "block table has ", c.block_table.size(), " blocks for ", needed));
    for (int p = c.num_computed; p < c.num_computed + c.num_tokens; ++p) {
      const BlockId b = c.block_table[p / bs];
      if (!b.valid() || b.value >= cache_.num_blocks)
        return absl::InternalError(absl::StrCat(who, "no block to write position ", p));
      if (!written.insert({b.value, p % bs}).second)
        return absl::InternalError(absl::StrCat(who, "block ", b.value, " written twice"));
    }
  }
  if (offset != batch.num_tokens()) return absl::InternalError("token count mismatch");
  return absl::OkStatus();
}

absl::Status FakeModelRunner::Visible(const ScheduledChunk& c, int position,
                                      std::vector<TokenId>& out) const {
  out.clear();
  if (!options_.attention_layer) return absl::OkStatus();
  const View view = ViewFor(options_, c.policy);
  const int bs = cache_.block_size;
  for (int j = 0; j <= position; ++j) {
    if (!Sees(view, position, j)) continue;
    const BlockId b = c.block_table[j / bs];
    if (!b.valid())
      return absl::InternalError(absl::StrCat("request ", c.request.value, ": position ", position,
                                              " needs key ", j, " from a released block"));
    const Entry& e = kv_[static_cast<size_t>(b.value) * bs + j % bs];
    if (e.position != j)
      return absl::InternalError(absl::StrCat("request ", c.request.value, ": key ", j,
                                              " in block ", b.value, " holds position ",
                                              e.position));
    out.push_back(e.token);
  }
  return absl::OkStatus();
}

absl::Status FakeModelRunner::ForwardToHost(const StepBatch& batch, std::vector<float>& logits) {
  if (options_.start.valid()) options_.start.wait();
  RETURN_IF_ERROR(CheckLayout(batch));
  ++num_steps_;
  max_tokens_in_step_ = std::max(max_tokens_in_step_, batch.num_tokens());
  const int bs = cache_.block_size;
  for (const ScheduledChunk& c : batch.chunks)
    for (int t = 0; t < c.num_tokens && options_.attention_layer; ++t) {
      const int p = c.num_computed + t;
      kv_[static_cast<size_t>(c.block_table[p / bs].value) * bs + p % bs] = {
          batch.token_ids[c.first_token + t], p};
    }
  logits.clear();
  std::vector<TokenId> visible;
  for (const ScheduledChunk& c : batch.chunks) {
    Slot fresh;
    Slot& slot = options_.recurrent_layer ? slots_[c.state_slot.value] : fresh;
    if (c.num_computed == 0) slot = Slot{};
    for (int t = 0; t < c.num_tokens; ++t) {
      const int p = c.num_computed + t;
      slot.digest = Fold(slot.digest, batch.token_ids[c.first_token + t]);
      ++slot.num_tokens;
      RETURN_IF_ERROR(Visible(c, p, visible));
      const bool row =
          c.logits == LogitsMode::kAll || (c.logits == LogitsMode::kLast && t == c.num_tokens - 1);
      if (!row) continue;
      const std::vector<float> r =
          FakeLogits(visible, options_.recurrent_layer ? slot.digest : 0, spec_.vocab_size);
      logits.insert(logits.end(), r.begin(), r.end());
    }
  }
  return absl::OkStatus();
}

absl::Status FakeModelRunner::ForwardAndSample(const StepBatch& batch,
                                               std::span<const RowSampling> rows,
                                               std::vector<TokenId>& ids,
                                               std::vector<float>& host_logits) {
  if (!options_.device_sampling)
    return ModelRunner::ForwardAndSample(batch, rows, ids, host_logits);
  if (static_cast<int>(rows.size()) != batch.NumLogitRows())
    return absl::InvalidArgumentError(absl::StrCat(rows.size(), " row sampling entries for ",
                                                   batch.NumLogitRows(), " logit rows"));
  std::vector<float> logits;
  RETURN_IF_ERROR(ForwardToHost(batch, logits));
  std::vector<FakeSampledRow>& step = sampled_steps_.emplace_back();
  for (const ScheduledChunk& c : batch.chunks) {
    const int num_rows =
        c.logits == LogitsMode::kAll ? c.num_tokens : c.logits == LogitsMode::kLast;
    for (int i = 0; i < num_rows; ++i) step.push_back({c.request, rows[step.size()]});
  }
  const size_t vocab = spec_.vocab_size;
  ids.assign(rows.size(), -1);
  host_logits.clear();
  for (size_t i = 0; i < rows.size(); ++i) {
    std::span<const float> row(logits.data() + i * vocab, vocab);
    if (rows[i].on_device)
      ids[i] = FakeDeviceSample(row, rows[i]);
    else
      host_logits.insert(host_logits.end(), row.begin(), row.end());
  }
  return absl::OkStatus();
}

}  // namespace junction::testing
