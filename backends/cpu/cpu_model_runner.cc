// The CPU model runner: embedding, per layer (norm -> mixer -> residual, norm -> MLP ->
// residual), final norm, LM head on the rows that need logits. float32 throughout.
#include <optional>

#include "absl/strings/str_cat.h"
#include "backends/cpu/cpu_backends.h"
#include "backends/cpu/mlp.h"
#include "backends/cpu/ops.h"
#include "engine/common/status_macros.h"

namespace junction::cpu {
namespace {

struct CpuLayer {
  std::unique_ptr<MixerLayer> mixer;
  std::string backend;
  const float* mixer_norm = nullptr;
  std::optional<CpuMlp> mlp;
  const float* mlp_norm = nullptr;
};

class CpuModelRunner : public ModelRunner {
 public:
  CpuModelRunner(ModelSpec spec, std::shared_ptr<const WeightStore> weights,
                 CacheGeometry cache)
      : spec_(std::move(spec)), weights_(std::move(weights)), cache_(cache) {
    device_.device_class = DeviceClass::kCpu;
    device_.name = "cpu";
  }

  absl::Status Load(const BackendRegistry& registry, const CpuRunnerOptions& options);
  absl::Status ForwardToHost(const StepBatch& batch, std::vector<float>& logits) override;

  const ModelSpec& spec() const override { return spec_; }
  const CacheGeometry& cache() const override { return cache_; }
  const DeviceInfo& device() const override { return device_; }
  std::vector<LayerBackend> layer_backends() const override {
    std::vector<LayerBackend> out;
    for (size_t i = 0; i < layers_.size(); ++i)
      if (layers_[i].mixer)
        out.push_back({static_cast<int>(i), spec_.layers[i].mixer->kind, layers_[i].backend});
    return out;
  }

 private:
  void ComputeLogits(const StepBatch& batch, std::vector<float>& logits);

  ModelSpec spec_;
  std::shared_ptr<const WeightStore> weights_;
  CacheGeometry cache_;
  DeviceInfo device_;
  const float* embedding_ = nullptr;
  const float* final_norm_ = nullptr;
  const float* lm_head_ = nullptr;
  std::vector<CpuLayer> layers_;
  std::vector<float> x_, h_, out_;
};

absl::Status CpuModelRunner::Load(const BackendRegistry& registry,
                                  const CpuRunnerOptions& options) {
  const int64_t hidden = spec_.hidden_size;
  const int64_t vocab = spec_.vocab_size;
  ASSIGN_OR_RETURN(embedding_, weights_->GetF32(spec_.embedding, {vocab, hidden}));
  ASSIGN_OR_RETURN(final_norm_, weights_->GetF32(spec_.final_norm, {hidden}));
  ASSIGN_OR_RETURN(lm_head_, weights_->GetF32(spec_.lm_head, {vocab, hidden}));
  for (int i = 0; i < static_cast<int>(spec_.layers.size()); ++i) {
    const LayerSpec& layer_spec = spec_.layers[i];
    CpuLayer layer;
    if (layer_spec.mixer) {
      auto pinned = options.pinned.find(layer_spec.mixer->kind);
      ASSIGN_OR_RETURN(BackendSelection selection,
                       registry.Select(*layer_spec.mixer, device_,
                                       pinned == options.pinned.end() ? "" : pinned->second));
      LayerContext context{&spec_, i, &*layer_spec.mixer, weights_.get(), cache_};
      ASSIGN_OR_RETURN(layer.mixer, selection.backend->CreateLayer(context));
      layer.backend = selection.backend->descriptor().name;
      ASSIGN_OR_RETURN(layer.mixer_norm, weights_->GetF32(layer_spec.mixer_norm, {hidden}));
    }
    if (layer_spec.mlp) {
      ASSIGN_OR_RETURN(CpuMlp mlp, CpuMlp::Load(*layer_spec.mlp, spec_.hidden_size, *weights_));
      layer.mlp = std::move(mlp);
      ASSIGN_OR_RETURN(layer.mlp_norm, weights_->GetF32(layer_spec.mlp_norm, {hidden}));
    }
    layers_.push_back(std::move(layer));
  }
  return absl::OkStatus();
}

absl::Status CpuModelRunner::ForwardToHost(const StepBatch& batch, std::vector<float>& logits) {
  const int64_t hidden = spec_.hidden_size;
  const int n = batch.num_tokens();
  for (TokenId id : batch.token_ids)
    if (id < 0 || id >= spec_.vocab_size)
      return absl::InvalidArgumentError(
          absl::StrCat("token id ", id, " is outside the vocabulary [0, ", spec_.vocab_size, ")"));
  for (CpuLayer& layer : layers_)
    if (layer.mixer) RETURN_IF_ERROR(layer.mixer->Plan(batch));
  x_.resize(n * hidden);
  h_.resize(n * hidden);
  out_.resize(n * hidden);
  for (int t = 0; t < n; ++t)
    for (int64_t i = 0; i < hidden; ++i)
      x_[t * hidden + i] = embedding_[batch.token_ids[t] * hidden + i] * spec_.embedding_multiplier;
  const bool plus_one = spec_.norm_plus_one;
  for (CpuLayer& layer : layers_) {
    if (layer.mixer) {
      RmsNorm(x_.data(), n, hidden, layer.mixer_norm, spec_.norm_eps, plus_one, h_.data());
      layer.mixer->Run({h_.data(), DType::kF32, n, static_cast<int>(hidden)},
                       {out_.data(), DType::kF32, n, static_cast<int>(hidden)});
      AddScaled(x_.data(), out_.data(), n * hidden, spec_.residual_multiplier);
    }
    if (layer.mlp) {
      RmsNorm(x_.data(), n, hidden, layer.mlp_norm, spec_.norm_eps, plus_one, h_.data());
      layer.mlp->Run(h_.data(), n, out_.data());
      AddScaled(x_.data(), out_.data(), n * hidden, spec_.residual_multiplier);
    }
  }
  ComputeLogits(batch, logits);
  return absl::OkStatus();
}

void CpuModelRunner::ComputeLogits(const StepBatch& batch, std::vector<float>& logits) {
  const int64_t hidden = spec_.hidden_size;
  std::vector<int> rows;
  for (const ScheduledChunk& c : batch.chunks) {
    if (c.logits == LogitsMode::kAll)
      for (int t = 0; t < c.num_tokens; ++t) rows.push_back(c.first_token + t);
    if (c.logits == LogitsMode::kLast) rows.push_back(c.first_token + c.num_tokens - 1);
  }
  std::vector<float> normed(rows.size() * hidden);
  for (size_t r = 0; r < rows.size(); ++r)
    RmsNorm(&x_[rows[r] * hidden], 1, hidden, final_norm_, spec_.norm_eps, spec_.norm_plus_one,
            &normed[r * hidden]);
  logits.resize(rows.size() * spec_.vocab_size);
  MatMulTransposed(normed.data(), static_cast<int64_t>(rows.size()), hidden, lm_head_,
                   spec_.vocab_size, nullptr, logits.data());
  if (spec_.logits_divisor != 1.0f)
    for (float& v : logits) v /= spec_.logits_divisor;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ModelRunner>> CreateCpuModelRunner(
    const ModelSpec& spec, std::shared_ptr<const WeightStore> weights,
    const BackendRegistry& registry, const CpuRunnerOptions& options) {
  auto runner = std::make_unique<CpuModelRunner>(spec, std::move(weights), options.cache);
  RETURN_IF_ERROR(runner->Load(registry, options));
  return std::unique_ptr<ModelRunner>(std::move(runner));
}

}  // namespace junction::cpu
