#include "clients/loadgen/workload.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace junction::loadgen {
namespace {

// Words for random chat prompts: common, short, mostly one token in BPE vocabularies.
constexpr const char* kWords[] = {
    "the",   "of",    "and",   "to",   "in",   "is",   "you",   "that", "it",    "he",
    "was",   "for",   "on",    "are",  "as",   "with", "his",   "they", "at",    "be",
    "this",  "have",  "from",  "or",   "one",  "had",  "by",    "word", "but",   "not",
    "what",  "all",   "were",  "we",   "when", "your", "can",   "said", "there", "use",
    "an",    "each",  "which", "she",  "do",   "how",  "their", "if",   "will",  "up",
    "other", "about", "out",   "many", "then", "them", "these", "so",   "some",  "her",
    "would", "make",  "like",  "him",  "into", "time", "has",   "look", "two",   "more"};

std::mt19937_64 RequestRng(uint64_t seed, uint64_t salt, int index) {
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                    static_cast<uint32_t>(salt), static_cast<uint32_t>(index),
                    static_cast<uint32_t>(index < 0)};
  return std::mt19937_64(seq);
}

}  // namespace

absl::StatusOr<Workload> Workload::Create(const LoadgenOptions& options) {
  Workload workload(options);
  if (options.prompts_file.empty()) return workload;
  std::ifstream in(options.prompts_file);
  if (!in)
    return absl::NotFoundError(absl::StrCat("cannot open --prompts-file ", options.prompts_file));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view stripped = absl::StripAsciiWhitespace(line);
    if (!stripped.empty()) workload.prompts_.emplace_back(stripped);
  }
  if (workload.prompts_.empty())
    return absl::InvalidArgumentError(absl::StrCat(options.prompts_file, " has no prompts"));
  return workload;
}

int Workload::SampleLength(const LengthDistribution& d, uint64_t salt, int index) const {
  std::mt19937_64 rng = RequestRng(options_.seed, salt, index);
  switch (d.kind) {
    case LengthDistribution::Kind::kFixed:
      return static_cast<int>(d.a);
    case LengthDistribution::Kind::kUniform:
      return std::uniform_int_distribution<int>(static_cast<int>(d.a), static_cast<int>(d.b))(rng);
    case LengthDistribution::Kind::kNormal: {
      const double x = std::normal_distribution<double>(d.a, d.b)(rng);
      return std::max(1, static_cast<int>(std::lround(x)));
    }
    case LengthDistribution::Kind::kEmpirical:
      return d.samples[std::uniform_int_distribution<size_t>(0, d.samples.size() - 1)(rng)];
  }
  return 1;
}

RequestSpec Workload::Make(int index) const {
  RequestSpec spec;
  spec.index = index;
  spec.id = absl::StrCat(index < 0 ? "loadgen-warmup-" : "loadgen-", index < 0 ? -index : index);
  spec.max_tokens = SampleLength(options_.output_len, /*salt=*/2, index);
  if (!prompts_.empty()) {
    const size_t n = prompts_.size();
    spec.prompt_text = prompts_[static_cast<size_t>(index < 0 ? -index : index) % n];
    return spec;
  }
  const int input_len = SampleLength(options_.input_len, /*salt=*/1, index);
  std::mt19937_64 rng = RequestRng(options_.seed, /*salt=*/3, index);
  if (options_.backend == "http-chat") {
    std::uniform_int_distribution<size_t> word(0, std::size(kWords) - 1);
    for (int i = 0; i < input_len; ++i)
      absl::StrAppend(&spec.prompt_text, i ? " " : "", kWords[word(rng)]);
    return spec;
  }
  std::uniform_int_distribution<int> id(options_.token_min, options_.token_max);
  spec.prompt_ids.resize(input_len);
  for (int& t : spec.prompt_ids) t = id(rng);
  return spec;
}

std::vector<double> ArrivalTimes(int num_requests, double rate, double burstiness, uint64_t seed) {
  std::vector<double> times(num_requests, 0.0);
  if (rate <= 0) return times;
  std::mt19937_64 rng = RequestRng(seed, /*salt=*/4, 0);
  // Gamma(shape k, scale theta) has mean k * theta; theta = 1 / (rate * k) keeps the mean gap
  // at 1 / rate for every burstiness.
  std::gamma_distribution<double> gap(burstiness, 1.0 / (rate * burstiness));
  double t = 0;
  for (int i = 0; i < num_requests; ++i) {
    if (i > 0) t += gap(rng);
    times[i] = t;
  }
  return times;
}

}  // namespace junction::loadgen
