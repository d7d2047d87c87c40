// EngineConfig validation and the engine's command-line flags.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/runtime/engine.h"

namespace junction {
namespace {

// "512M", "2G", "1.5GiB", "1073741824" -> bytes (binary units). False on anything else.
bool ParseByteSize(std::string text, int64_t& bytes) {
  text = absl::AsciiStrToUpper(text);
  for (const char* suffix : {"IB", "B"})
    if (text.size() > 1 && absl::EndsWith(text, suffix) &&
        !std::isdigit(static_cast<unsigned char>(text[text.size() - strlen(suffix) - 1]))) {
      text.resize(text.size() - strlen(suffix));
      break;
    }
  double scale = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'K':
        scale = 1024.0;
        break;
      case 'M':
        scale = 1024.0 * 1024;
        break;
      case 'G':
        scale = 1024.0 * 1024 * 1024;
        break;
      case 'T':
        scale = 1024.0 * 1024 * 1024 * 1024;
        break;
      default:
        break;
    }
    if (scale != 1) text.pop_back();
  }
  double value;
  if (text.empty() || !absl::SimpleAtod(text, &value) || !std::isfinite(value) || value < 0)
    return false;
  const double result = value * scale;
  if (result > 9.0e18) return false;
  bytes = static_cast<int64_t>(result);
  return true;
}

}  // namespace

absl::Status EngineConfig::Validate() const {
  std::vector<std::string> problems;
  if (block_size < 1 || block_size > 4096) problems.push_back("block_size must be in [1, 4096]");
  if (kv_memory_bytes < 0) problems.push_back("kv_memory_bytes must be >= 0");
  if (max_num_seqs < 1) problems.push_back("max_num_seqs must be >= 1");
  if (max_batched_tokens < 1) problems.push_back("max_batched_tokens must be >= 1");
  if (max_waiting < 1) problems.push_back("max_waiting must be >= 1");
  if (attention_policy != "auto" && attention_policy != "full" && attention_policy != "window")
    problems.push_back("attention_policy must be auto, full or window");
  if (window_sinks < 0) problems.push_back("window_sinks must be >= 0");
  if (window_size < 0) problems.push_back("window_size must be >= 0");
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("bad engine config: ", absl::StrJoin(problems, "; ")));
}

bool ParseEngineFlag(int argc, char** argv, int* index, EngineConfig& config,
                     std::vector<std::string>& problems) {
  std::string flag = argv[*index];
  std::optional<std::string> inline_value;
  if (const size_t eq = flag.find('='); eq != std::string::npos) {
    inline_value = flag.substr(eq + 1);
    flag.resize(eq);
  }
  static const char* kFlags[] = {"--kv-memory",          "--block-size",       "--max-seqs",
                                 "--max-batched-tokens", "--no-prefix-cache",  "--max-waiting",
                                 "--attention-backend",  "--attention-policy", "--window-sinks",
                                 "--window-size",        "--device-sampling",  "--cuda-graphs",
                                 "--no-device-sampling", "--no-cuda-graphs"};
  if (std::find(std::begin(kFlags), std::end(kFlags), flag) == std::end(kFlags)) return false;
  if (flag == "--no-prefix-cache") {
    config.prefix_cache = false;
    if (inline_value) problems.push_back("--no-prefix-cache takes no value");
    return true;
  }
  if (flag == "--device-sampling" || flag == "--cuda-graphs" || flag == "--no-device-sampling" ||
      flag == "--no-cuda-graphs") {
    const bool on = flag.rfind("--no-", 0) != 0;
    (flag.find("sampling") != std::string::npos ? config.device_sampling : config.cuda_graphs) = on;
    if (inline_value) problems.push_back(flag + " takes no value");
    return true;
  }
  std::string value;
  if (inline_value) {
    value = *inline_value;
  } else if (*index + 1 < argc) {
    value = argv[++*index];
  } else {
    problems.push_back(flag + " needs a value");
    return true;
  }
  auto integer = [&](int& out) {
    if (!absl::SimpleAtoi(value, &out))
      problems.push_back(absl::StrCat(flag, ": '", value, "' is not an integer"));
  };
  if (flag == "--kv-memory") {
    if (!ParseByteSize(value, config.kv_memory_bytes))
      problems.push_back(absl::StrCat("--kv-memory: '", value,
                                      "' is not a size like 512M, 2G or a number of bytes"));
  } else if (flag == "--block-size") {
    integer(config.block_size);
  } else if (flag == "--max-seqs") {
    integer(config.max_num_seqs);
  } else if (flag == "--max-batched-tokens") {
    integer(config.max_batched_tokens);
  } else if (flag == "--max-waiting") {
    integer(config.max_waiting);
  } else if (flag == "--attention-backend") {
    config.attention_backend = value;
  } else if (flag == "--attention-policy") {
    config.attention_policy = value;
  } else if (flag == "--window-sinks") {
    integer(config.window_sinks);
  } else if (flag == "--window-size") {
    integer(config.window_size);
  }
  return true;
}

std::string EngineFlagsUsage() {
  return R"(engine options:
  --kv-memory SIZE          KV-cache + state memory budget: bytes, or 512M, 2G (default: 1G on
                            the CPU, capped at what --max-seqs requests of the full context need)
  --block-size N            tokens per KV block (default 16)
  --max-seqs N              most requests running at once (default 256)
  --max-batched-tokens N    tokens per step, prefill chunks + decode (default 2048)
  --max-waiting N           waiting-queue bound; beyond it requests are refused (default 1024)
  --no-prefix-cache         turn prefix caching off
  --attention-backend NAME  pin the backend of softmax-attention layers (e.g. cpu.flash)
  --attention-policy P      auto | full | window (default auto: full while the request fits)
  --window-sinks N          window policy: attention sinks kept (default 4)
  --window-size N           window policy: window in tokens (default: context - sinks)
  --no-device-sampling      sample every token on the host (default: the GPU runner samples
                            the tokens of requests without penalties or log-probabilities)
  --no-cuda-graphs          run every decode step eagerly (default: the GPU runner replays
                            decode steps as CUDA graphs where every layer allows it)
)";
}

}  // namespace junction
