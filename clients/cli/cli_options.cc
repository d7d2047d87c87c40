#include "clients/cli/cli_options.h"

#include <charconv>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace junction::cli {
namespace {

bool ParseIds(const std::string& text, std::vector<TokenId>& ids) {
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    int64_t v;
    if (!absl::SimpleAtoi(part, &v) || v < INT32_MIN || v > INT32_MAX) return false;
    ids.push_back(static_cast<TokenId>(v));
  }
  return !ids.empty();
}

}  // namespace

std::string CliUsage() {
  return R"(usage: junction-cli --model DIR (--prompt TEXT | --ids 1,2,3) [options]
       junction-cli --model DIR --chat [--system TEXT] [options]
       junction-cli --server HOST:PORT (--prompt TEXT | --ids 1,2,3 | --chat --tokenizer DIR)
       junction-cli --tokenizer DIR (--tokenize FILE | --detokenize FILE)
options:
  --max-tokens N        tokens to generate (default 64)
  --temperature T       0 = greedy (default 1.0)
  --top-p P  --top-k K  --min-p P  --seed S
  --repetition-penalty R  --presence-penalty P  --frequency-penalty F
  --ignore-eos          generate max-tokens even past end-of-sequence
  --format text|json    output format (default text)
  --dump-logits FILE    one forward over the prompt; write logits [T, vocab] as safetensors
  --prefill-chunk N     prefill the prompt N tokens at a time
  --threads N           CPU threads (default: all cores)
  --device D            auto (a CUDA GPU when this build and the machine have one, else the
                        CPU), cpu or cuda (default auto)
  --chat                interactive chat with the model's chat template (/reset, /exit;
                        Ctrl-C stops an answer)
  --system TEXT         the chat's system message
  --server HOST:PORT    generate on a junction-server (gRPC) instead of in-process
  --batch FILE.jsonl    run every line ({"ids": [...], "max_tokens", "temperature", "seed"})
                        concurrently through the engine; print JSONL results in input order
)" + EngineFlagsUsage();
}

absl::StatusOr<CliOptions> ParseCliOptions(int argc, char** argv) {
  CliOptions o;
  o.sampling.max_tokens = 64;
  std::vector<std::string> problems;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") return absl::NotFoundError(CliUsage());
    if (ParseEngineFlag(argc, argv, &i, o.engine, problems)) continue;
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        problems.push_back(flag + " needs a value");
        return "";
      }
      return argv[++i];
    };
    auto number = [&](auto& out) {
      const std::string v = value();
      using T = std::remove_reference_t<decltype(out)>;
      bool ok;
      if constexpr (std::is_floating_point_v<T>) {
        double d;
        ok = absl::SimpleAtod(v, &d) && std::isfinite(d);
        out = static_cast<T>(d);
      } else {
        int64_t n;
        ok = absl::SimpleAtoi(v, &n);
        out = static_cast<T>(n);
      }
      if (!ok) problems.push_back(absl::StrCat(flag, ": '", v, "' is not a number"));
    };
    if (flag == "--model") o.model_dir = value();
    else if (flag == "--prompt") o.prompt = value();
    else if (flag == "--ids") {
      std::vector<TokenId> ids;
      const std::string v = value();
      if (!ParseIds(v, ids)) problems.push_back("--ids: '" + v + "' is not a list like 1,2,3");
      o.ids = ids;
    } else if (flag == "--max-tokens") number(o.sampling.max_tokens);
    else if (flag == "--temperature") number(o.sampling.temperature);
    else if (flag == "--top-p") number(o.sampling.top_p);
    else if (flag == "--top-k") number(o.sampling.top_k);
    else if (flag == "--min-p") number(o.sampling.min_p);
    else if (flag == "--seed") {
      uint64_t seed = 0;
      number(seed);
      o.sampling.seed = seed;
    } else if (flag == "--repetition-penalty") number(o.sampling.repetition_penalty);
    else if (flag == "--presence-penalty") number(o.sampling.presence_penalty);
    else if (flag == "--frequency-penalty") number(o.sampling.frequency_penalty);
    else if (flag == "--ignore-eos") o.sampling.ignore_eos = true;
    else if (flag == "--format") o.format = value();
    else if (flag == "--dump-logits") o.dump_logits = value();
    else if (flag == "--batch") o.batch_file = value();
    else if (flag == "--tokenizer") o.tokenizer_dir = value();
    else if (flag == "--tokenize") o.tokenize_file = value();
    else if (flag == "--detokenize") o.detokenize_file = value();
    else if (flag == "--prefill-chunk") number(o.prefill_chunk);
    else if (flag == "--threads") number(o.num_threads);
    else if (flag == "--device") o.device = value();
    else if (flag == "--chat") o.chat = true;
    else if (flag == "--server") o.server = value();
    else if (flag == "--system") o.system_prompt = value();
    else problems.push_back("unknown flag " + flag);
  }
  const bool tokenizer_mode = o.tokenize_file || o.detokenize_file;
  if (o.format != "text" && o.format != "json") problems.push_back("--format must be text or json");
  if (tokenizer_mode) {
    if (o.tokenizer_dir.empty()) o.tokenizer_dir = o.model_dir;
    if (o.tokenizer_dir.empty()) problems.push_back("--tokenize/--detokenize need --tokenizer DIR");
  } else {
    const bool remote = !o.server.empty();
    if (o.model_dir.empty() && !remote) problems.push_back("--model DIR is required");
    if (remote && o.chat && o.model_dir.empty() && o.tokenizer_dir.empty())
      problems.push_back("--chat with --server needs --tokenizer DIR for the chat template");
    if (!o.batch_file && !o.chat && o.prompt.has_value() == o.ids.has_value())
      problems.push_back("give exactly one of --prompt or --ids");
    if (o.tokenizer_dir.empty()) o.tokenizer_dir = o.model_dir;
  }
  if (o.prefill_chunk < 0) problems.push_back("--prefill-chunk must be >= 0");
  if (o.device != "auto" && o.device != "cpu" && o.device != "cuda")
    problems.push_back("--device: '" + o.device + "' is not one of auto, cpu, cuda");
  if (absl::Status s = o.engine.Validate(); !s.ok()) problems.push_back(std::string(s.message()));
  if (absl::Status s = o.sampling.Validate(); !s.ok()) problems.push_back(std::string(s.message()));
  if (!problems.empty())
    return absl::InvalidArgumentError(absl::StrJoin(problems, "; "));
  return o;
}

}  // namespace junction::cli
