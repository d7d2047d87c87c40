#include "backends/loader/served_model.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "backends/cpu/cpu_backends.h"
#include "engine/common/status_macros.h"
#include "engine/model/model_config.h"
#include "engine/model/weight_store.h"
#include "nlohmann/json.hpp"
#ifdef JUNCTION_WITH_CUDA
#include "backends/cuda/cuda_backends.h"
#include "backends/cuda/random_weights.h"
#endif

namespace junction {
namespace {

DeviceInfo CpuDevice() {
  DeviceInfo device;
  device.device_class = DeviceClass::kCpu;
  device.name = "cpu";
  return device;
}

absl::StatusOr<ModelSpec> LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read the config ", path));
  nlohmann::json json = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object())
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a JSON object"));
  auto spec = ParseModelConfig(json);
  if (!spec.ok())
    return absl::Status(spec.status().code(),
                        absl::StrCat("config ", path, ": ", spec.status().message()));
  return spec;
}

// GPT-2's byte <-> printable-character map (the ByteLevel pre-tokenizer and decoder use it).
std::string ByteLevelChar(int byte) {
  auto printable = [](int b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  };
  int code = byte;
  if (!printable(byte)) {
    int n = 0;
    for (int b = 0; b < byte; ++b)
      if (!printable(b)) ++n;
    code = 256 + n;
  }
  std::string out;  // UTF-8 of `code` (< 0x800)
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else {
    out += static_cast<char>(0xC0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3F));
  }
  return out;
}

#ifdef JUNCTION_WITH_CUDA
// kv_memory_bytes 0 on CUDA: 90 % of what the device has free after the weights and 3 GiB of
// activations, workspace and context. The engine's budget counts 4-byte K/V elements; the CUDA
// runner stores 16-bit ones, so the budget handed over is twice the device bytes meant.
absl::Status SizeCudaKvCache(const ModelSpec& spec, EngineConfig& config, bool verbose) {
  if (config.kv_memory_bytes > 0) return absl::OkStatus();
  ASSIGN_OR_RETURN(cuda::CudaMemoryInfo memory, cuda::QueryCudaMemory());
  const int64_t weights = cuda::CudaWeightBytes(spec);
  const int64_t usable = (memory.free_bytes - weights - (int64_t{3} << 30)) / 10 * 9;
  if (usable <= 0)
    return absl::ResourceExhaustedError(absl::StrCat(
        "the model's weights (", weights >> 20, " MiB) leave no room for a KV cache in the ",
        memory.free_bytes >> 20, " MiB the device has free"));
  config.kv_memory_bytes = usable * 2;
  if (verbose)
    std::fprintf(stderr,
               "junction: KV cache: %lld MiB of device memory (free %lld MiB, weights %lld MiB)\n",
               static_cast<long long>(usable >> 20), static_cast<long long>(memory.free_bytes >> 20),
               static_cast<long long>(weights >> 20));
  return absl::OkStatus();
}
#endif

#ifdef JUNCTION_WITH_CUDA
// Empty when every mixer layer of `spec` has a CUDA backend on `device`; else which layer lacks
// one and why (the registry's rejections).
std::string LayerWithoutCudaBackend(const ModelSpec& spec, const DeviceInfo& device) {
  BackendRegistry registry;
  cuda::RegisterCudaBackends(registry);
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    if (!spec.layers[i].mixer) continue;
    auto selection = registry.Select(*spec.layers[i].mixer, device);
    if (!selection.ok())
      return absl::StrCat("layer ", i, " (", MixerKindName(spec.layers[i].mixer->kind),
                          ") has no CUDA backend: ", selection.status().message());
  }
  return "";
}
#endif

}  // namespace

absl::StatusOr<DeviceChoice> ChooseDevice(const std::string& requested) {
  if (requested != "auto" && requested != "cpu" && requested != "cuda")
    return absl::InvalidArgumentError(
        absl::StrCat("--device: '", requested, "' is not one of auto, cpu, cuda"));
  if (requested == "cpu") return DeviceChoice{CpuDevice(), "--device cpu"};
#ifdef JUNCTION_WITH_CUDA
  absl::StatusOr<DeviceInfo> gpu = cuda::QueryCudaDevice();
  std::string why_not;
  if (!gpu.ok()) {
    why_not = std::string(gpu.status().message());
  } else if (gpu->cuda_sm < 80) {
    why_not = absl::StrCat("CUDA device '", gpu->name, "' is sm_", gpu->cuda_sm,
                           "; the CUDA backends need sm_80 or newer");
  } else {
    return DeviceChoice{*gpu, absl::StrCat(requested == "cuda" ? "--device cuda: " : "",
                                           "CUDA device '", gpu->name, "' (sm_", gpu->cuda_sm,
                                           ") found")};
  }
#else
  const std::string why_not =
      "this build has no CUDA backend (configured without JUNCTION_CUDA or without nvcc)";
#endif
  if (requested == "cuda")
    return absl::FailedPreconditionError(absl::StrCat("--device cuda: ", why_not));
  return DeviceChoice{CpuDevice(), absl::StrCat(why_not, ": using the CPU backends")};
}

absl::StatusOr<std::unique_ptr<Tokenizer>> MakeSyntheticTokenizer(int vocab_size) {
  if (vocab_size < 256)
    return absl::InvalidArgumentError("a synthetic tokenizer needs a vocabulary of >= 256 ids");
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) vocab[ByteLevelChar(b)] = b;
  const std::string space = ByteLevelChar(' ');
  for (int id = 256; id < vocab_size; ++id) vocab[absl::StrCat(space, "t", id)] = id;
  const nlohmann::json byte_level = {{"type", "ByteLevel"},
                                     {"add_prefix_space", false},
                                     {"trim_offsets", true},
                                     {"use_regex", true}};
  nlohmann::json tokenizer = {{"version", "1.0"},
                              {"added_tokens", nlohmann::json::array()},
                              {"normalizer", nullptr},
                              {"pre_tokenizer", byte_level},
                              {"post_processor", byte_level},
                              {"decoder", byte_level},
                              {"model",
                               {{"type", "BPE"},
                                {"dropout", nullptr},
                                {"unk_token", nullptr},
                                {"continuing_subword_prefix", nullptr},
                                {"end_of_word_suffix", nullptr},
                                {"fuse_unk", false},
                                {"byte_fallback", false},
                                {"ignore_merges", false},
                                {"vocab", vocab},
                                {"merges", nlohmann::json::array()}}}};
  const nlohmann::json config = {
      {"clean_up_tokenization_spaces", false},
      {"chat_template",
       "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
       "{% if add_generation_prompt %}assistant: {% endif %}"}};
  return Tokenizer::FromJson(tokenizer, config);
}

absl::StatusOr<RunnerFactory> MakeRunnerFactory(const ModelSpec& spec,
                                                std::shared_ptr<const WeightStore> weights,
                                                const DeviceInfo& device, BackendRegistry& registry,
                                                const std::string& pinned_attention,
                                                bool cuda_graphs) {
  const BackendRegistry* backends = &registry;
  if (device.device_class == DeviceClass::kCuda) {
#ifdef JUNCTION_WITH_CUDA
    cuda::RegisterCudaBackends(registry);
    return RunnerFactory([spec, weights, backends, pinned_attention,
                          cuda_graphs](const CacheGeometry& geometry)
                             -> absl::StatusOr<std::unique_ptr<ModelRunner>> {
      cuda::CudaRunnerOptions runner_options;
      runner_options.cache = geometry;
      runner_options.cuda_graphs = cuda_graphs;
      if (!pinned_attention.empty())
        runner_options.pinned[MixerKind::kAttention] = pinned_attention;
      return cuda::CreateCudaModelRunner(spec, weights, *backends, runner_options);
    });
#else
    return absl::FailedPreconditionError("this build has no CUDA backend");
#endif
  }
  (void)cuda_graphs;  // CPU runners have no graphs
  cpu::RegisterCpuBackends(registry);
  return RunnerFactory([spec, weights, backends, pinned_attention](const CacheGeometry& geometry)
                           -> absl::StatusOr<std::unique_ptr<ModelRunner>> {
    cpu::CpuRunnerOptions runner_options;
    runner_options.cache = geometry;
    if (!pinned_attention.empty()) runner_options.pinned[MixerKind::kAttention] = pinned_attention;
    return cpu::CreateCpuModelRunner(spec, weights, *backends, runner_options);
  });
}

absl::StatusOr<ServedModel> LoadServedModel(const std::string& dir, const EngineConfig& config,
                                            const std::string& id) {
  ServedModelOptions options;
  options.id = id;
  options.device = "auto";
  return LoadServedModel(dir, config, options);
}

absl::StatusOr<ServedModel> LoadServedModel(const std::string& dir, const EngineConfig& config_in,
                                            const ServedModelOptions& options) {
  ServedModel model;
  const bool random = !options.random_weights_config.empty();
  model.id = !options.id.empty() ? options.id : random ? options.random_weights_config : dir;
  ASSIGN_OR_RETURN(DeviceChoice choice, ChooseDevice(options.device));
  if (options.verbose)
    std::fprintf(stderr, "junction: device %s: %s\n",
                 choice.device.device_class == DeviceClass::kCuda ? "cuda" : "cpu",
                 choice.reason.c_str());
  model.device = choice.device;
  model.device_reason = choice.reason;
  bool on_cuda = choice.device.device_class == DeviceClass::kCuda;
  if (random && !on_cuda)
    return absl::FailedPreconditionError(
        absl::StrCat("--random-weights generates the weights on a CUDA device; the engine would "
                     "run on the CPU (",
                     choice.reason, ")"));

  std::shared_ptr<const WeightStore> weights;
  if (random) {
    ASSIGN_OR_RETURN(model.spec, LoadConfigFile(options.random_weights_config));
#ifdef JUNCTION_WITH_CUDA
    weights = cuda::MakeRandomWeightSource(options.random_seed);
#endif
  } else {
    ASSIGN_OR_RETURN(model.spec, LoadModelSpec(dir));
    ASSIGN_OR_RETURN(std::unique_ptr<WeightStore> store, WeightStore::Open(dir));
    weights = std::move(store);
  }
  model.architecture = model.spec.architecture;
#ifdef JUNCTION_WITH_CUDA
  // auto means "the GPU when it can serve this model": a mixer without a CUDA backend sends the
  // whole model to the CPU, saying why (--device cuda keeps the error instead).
  if (on_cuda && options.device == "auto" && !random) {
    if (std::string missing = LayerWithoutCudaBackend(model.spec, model.device);
        !missing.empty()) {
      model.device = CpuDevice();
      model.device_reason = absl::StrCat(model.device_reason, ", but ", missing,
                                         ": using the CPU backends");
      on_cuda = false;
      if (options.verbose)
        std::fprintf(stderr, "junction: device cpu: %s\n", model.device_reason.c_str());
    }
  }
#endif
  const std::string tokenizer_dir = !options.tokenizer_dir.empty() ? options.tokenizer_dir : dir;
  if (options.require_tokenizer || random ||
      std::filesystem::exists(std::filesystem::path(tokenizer_dir) / "tokenizer.json")) {
    auto tokenizer = random && options.tokenizer_dir.empty()
                         ? MakeSyntheticTokenizer(model.spec.vocab_size)
                         : Tokenizer::Load(tokenizer_dir);
    if (!tokenizer.ok()) {
      return absl::Status(tokenizer.status().code(),
                          absl::StrCat("tokenizer of ", random && options.tokenizer_dir.empty()
                                                            ? "the random-weights model"
                                                            : tokenizer_dir,
                                       ": ", tokenizer.status().message()));
    }
    model.tokenizer = std::move(*tokenizer);
  }

  EngineConfig config = config_in;
#ifdef JUNCTION_WITH_CUDA
  if (on_cuda) RETURN_IF_ERROR(SizeCudaKvCache(model.spec, config, options.verbose));
#endif
  model.registry = std::make_unique<BackendRegistry>();
  ASSIGN_OR_RETURN(RunnerFactory make_runner,
                   MakeRunnerFactory(model.spec, weights, model.device, *model.registry,
                                     config.attention_backend, config.cuda_graphs));
  ASSIGN_OR_RETURN(model.engine,
                   CreateEngine(model.spec, config, model.device, *model.registry, make_runner));
  return model;
}

}  // namespace junction
