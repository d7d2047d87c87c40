#include "engine/sampling/sampling_params.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace junction {

absl::Status SamplingParams::Validate() const {
  std::vector<std::string> problems;
  auto check = [&](bool ok, const std::string& what) {
    if (!ok) problems.push_back(what);
  };
  check(std::isfinite(temperature) && temperature >= 0 && temperature <= 100,
        "temperature must be in [0, 100]");
  check(std::isfinite(top_p) && top_p > 0 && top_p <= 1, "top_p must be in (0, 1]");
  check(top_k >= -1, "top_k must be -1, 0 (off) or positive");
  check(std::isfinite(min_p) && min_p >= 0 && min_p <= 1, "min_p must be in [0, 1]");
  check(std::isfinite(repetition_penalty) && repetition_penalty > 0 && repetition_penalty <= 10,
        "repetition_penalty must be in (0, 10]");
  check(std::isfinite(presence_penalty) && std::fabs(presence_penalty) <= 2,
        "presence_penalty must be in [-2, 2]");
  check(std::isfinite(frequency_penalty) && std::fabs(frequency_penalty) <= 2,
        "frequency_penalty must be in [-2, 2]");
  check(max_tokens >= 1, "max_tokens must be at least 1");
  check(logprobs >= 0 && logprobs <= 20, "logprobs must be in [0, 20]");
  for (const std::string& s : stop) check(!s.empty(), "stop strings must not be empty");
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(problems, "; "));
}

}  // namespace junction
