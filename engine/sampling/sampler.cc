#include "engine/sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "absl/container/flat_hash_map.h"

namespace junction {
namespace {

uint64_t SeedFor(const SamplingParams& params) {
  if (params.seed) return *params.seed;
  return std::random_device{}() ^ (static_cast<uint64_t>(std::random_device{}()) << 32);
}

// log-softmax of `logits` (over finite entries) into `out`.
void LogSoftmax(std::span<const float> logits, std::vector<float>& out) {
  float max = -std::numeric_limits<float>::infinity();
  for (float v : logits) max = std::max(max, v);
  double sum = 0;
  for (float v : logits) sum += std::exp(static_cast<double>(v - max));
  const float log_sum = max + static_cast<float>(std::log(sum));
  out.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) out[i] = logits[i] - log_sum;
}

}  // namespace

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(SeedFor(params)) {}

void Sampler::ApplyPenalties(std::span<float> logits, std::span<const TokenId> prompt,
                             std::span<const TokenId> output) const {
  const int vocab = static_cast<int>(logits.size());
  if (params_.repetition_penalty != 1.0f) {
    std::vector<bool> seen(vocab, false);
    for (auto tokens : {prompt, output})
      for (TokenId t : tokens)
        if (t >= 0 && t < vocab) seen[t] = true;
    for (int i = 0; i < vocab; ++i)
      if (seen[i])
        logits[i] = logits[i] > 0 ? logits[i] / params_.repetition_penalty
                                  : logits[i] * params_.repetition_penalty;
  }
  if (params_.presence_penalty != 0.0f || params_.frequency_penalty != 0.0f) {
    absl::flat_hash_map<TokenId, int> counts;
    for (TokenId t : output) ++counts[t];
    for (const auto& [t, n] : counts)
      if (t >= 0 && t < vocab)
        logits[t] -= params_.presence_penalty + params_.frequency_penalty * static_cast<float>(n);
  }
}

SampledToken Sampler::Sample(std::span<float> logits, std::span<const TokenId> prompt,
                             std::span<const TokenId> output) {
  const int vocab = static_cast<int>(logits.size());
  ApplyPenalties(logits, prompt, output);
  SampledToken result;
  std::vector<float> logprobs;
  if (params_.greedy()) {
    result.id = static_cast<TokenId>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    // Log-probabilities cost a pass over the vocabulary: only when the request asks for them.
    if (params_.logprobs == 0) return result;
    LogSoftmax(logits, logprobs);
  } else {
    for (float& v : logits) v /= params_.temperature;
    // Candidates sorted by logit, best first; ties keep the lower id first.
    std::vector<int> order(vocab);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return logits[a] > logits[b]; });
    int keep = vocab;
    if (params_.top_k > 0) keep = std::min(keep, params_.top_k);
    std::vector<double> probs(keep);
    const double max = logits[order[0]];
    double total = 0;
    for (int i = 0; i < keep; ++i) total += probs[i] = std::exp(logits[order[i]] - max);
    if (params_.min_p > 0) {
      const double floor = params_.min_p * probs[0];
      while (keep > 1 && probs[keep - 1] < floor) total -= probs[--keep];
    }
    if (params_.top_p < 1) {
      double cumulative = 0;
      int cut = keep;
      for (int i = 0; i < keep; ++i) {
        cumulative += probs[i] / total;
        if (cumulative >= params_.top_p) {
          cut = i + 1;
          break;
        }
      }
      for (int i = cut; i < keep; ++i) total -= probs[i];
      keep = cut;
    }
    std::uniform_real_distribution<double> uniform(0.0, total);
    double r = uniform(rng_);
    result.id = order[keep - 1];
    for (int i = 0; i < keep; ++i) {
      if (r < probs[i]) {
        result.id = order[i];
        break;
      }
      r -= probs[i];
    }
    if (params_.logprobs == 0) return result;
    // Report log-probabilities of the distribution actually sampled from (filtered, renormalized).
    std::vector<float> filtered(vocab, -std::numeric_limits<float>::infinity());
    for (int i = 0; i < keep; ++i) filtered[order[i]] = logits[order[i]];
    LogSoftmax(filtered, logprobs);
  }
  result.logprob = logprobs[result.id];
  if (params_.logprobs > 0) {
    std::vector<int> top(vocab);
    std::iota(top.begin(), top.end(), 0);
    const int k = std::min(params_.logprobs, vocab);
    std::partial_sort(top.begin(), top.begin() + k, top.end(),
                      [&](int a, int b) { return logprobs[a] > logprobs[b]; });
    for (int i = 0; i < k; ++i) result.top_logprobs.push_back({top[i], logprobs[top[i]]});
  }
  return result;
}

}  // namespace junction
