#include "backends/cuda/mamba2_layer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device_weights.h"
#include "backends/cuda/gemm.h"
#include "backends/cuda/kernels/dense_ops.h"
#include "backends/cuda/random_weights.h"
#include "engine/common/status_macros.h"

namespace junction::cuda {
namespace {

constexpr DType kDType = DType::kBF16;


std::vector<float> Uniform(std::mt19937& rng, int64_t n, float lo, float hi) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> out(n);
  for (float& v : out) v = u(rng);
  return out;
}

absl::StatusOr<const float*> UploadVector(DeviceArena& arena, const std::vector<float>& v) {
  if (v.empty()) return nullptr;
  ASSIGN_OR_RETURN(void* dev, arena.Upload(v.data(), v.size() * sizeof(float)));
  return static_cast<const float*>(dev);
}

absl::StatusOr<std::vector<float>> ReadVector(const WeightStore& w, const std::string& name,
                                              const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (int64_t d : shape) count *= d;
  ASSIGN_OR_RETURN(const float* data, w.GetF32(name, shape));
  return std::vector<float>(data, data + count);
}

// The layer's float32 parameters on the host, before the derived ones are computed.
struct HostParams {
  std::vector<float> conv_w, conv_b, dt_bias, a_log, d, norm, in_bias, out_bias;
};

// Mamba2's initialization (dt log-uniform in [1e-3, 1e-1] through softplus^-1, A in [1, 16])
// for random-weight benchmarks, whose source holds no float32 vectors.
HostParams RandomParams(const Mamba2Spec& s, int conv_dim, uint64_t seed) {
  std::mt19937 rng(static_cast<uint32_t>(seed * 2654435761u + 17));
  HostParams hp;
  hp.conv_w = Uniform(rng, int64_t{conv_dim} * s.conv_kernel, -0.5f, 0.5f);
  if (s.conv_bias) hp.conv_b = Uniform(rng, conv_dim, -0.2f, 0.2f);
  hp.dt_bias = Uniform(rng, s.num_heads, std::log(1e-3f), std::log(1e-1f));
  for (float& v : hp.dt_bias) v = std::log(std::expm1(std::exp(v)));
  hp.a_log = Uniform(rng, s.num_heads, 0.0f, std::log(16.0f));
  hp.d = Uniform(rng, s.num_heads, 0.5f, 1.5f);
  hp.norm.assign(s.inner_size, 1.0f);
  return hp;
}

}  // namespace

std::string Mamba2CudaUnsupported(const Mamba2Spec& s) {
  if (s.num_heads <= 0 || s.num_groups <= 0 || s.num_heads % s.num_groups != 0)
    return "num_heads must be a positive multiple of num_groups";
  if (s.inner_size != s.num_heads * s.head_dim) return "inner_size must be num_heads * head_dim";
  if (s.norm_per_group && s.inner_size % s.num_groups != 0)
    return "inner_size must be a multiple of num_groups for a per-group norm";
  if (!(s.dt_min <= s.dt_max)) return "time_step_limit must satisfy dt_min <= dt_max";
  return Mamba2SsdUnsupported(s.head_dim, s.state_size, s.num_groups, s.conv_kernel);
}

absl::Status CudaMamba2Layer::LoadWeights(const LayerContext& context) {
  const WeightStore& w = *context.weights;
  const std::string& p = context.mixer->weight_prefix;
  const int64_t hidden = hidden_, inner = spec_.inner_size, nh = spec_.num_heads;
  const int64_t conv_dim = conv_dim_, zxbc = zxbc_width_, proj = zxbc + nh;
  HostParams hp;
  if (std::optional<uint64_t> seed = RandomWeightSeed(w)) {
    ASSIGN_OR_RETURN(w_zxbc_,
                     UploadStacked(weights_, w, {p + "in_proj.weight"}, {zxbc}, hidden, kDType));
    ASSIGN_OR_RETURN(w_dt_,
                     UploadStacked(weights_, w, {p + "in_proj.weight:dt"}, {nh}, hidden, kDType));
    hp = RandomParams(spec_, conv_dim_, *seed + context.layer_index);
  } else {
    ASSIGN_OR_RETURN(const float* in_proj, w.GetF32(p + "in_proj.weight", {proj, hidden}));
    const std::vector<uint16_t> bits = ToHalfBits(in_proj, proj * hidden, kDType);
    ASSIGN_OR_RETURN(void* zxbc_dev, weights_.Upload(bits.data(), zxbc * hidden * 2));
    ASSIGN_OR_RETURN(void* dt_dev, weights_.Upload(bits.data() + zxbc * hidden, nh * hidden * 2));
    w_zxbc_ = zxbc_dev;
    w_dt_ = dt_dev;
    ASSIGN_OR_RETURN(hp.conv_w,
                     ReadVector(w, p + "conv1d.weight", {conv_dim, 1, spec_.conv_kernel}));
    if (spec_.conv_bias) {
      ASSIGN_OR_RETURN(hp.conv_b, ReadVector(w, p + "conv1d.bias", {conv_dim}));
    }
    ASSIGN_OR_RETURN(hp.dt_bias, ReadVector(w, p + "dt_bias", {nh}));
    ASSIGN_OR_RETURN(hp.a_log, ReadVector(w, p + "A_log", {nh}));
    ASSIGN_OR_RETURN(hp.d, ReadVector(w, p + "D", {nh}));
    ASSIGN_OR_RETURN(hp.norm, ReadVector(w, p + "norm.weight", {inner}));
    if (spec_.proj_bias) {
      ASSIGN_OR_RETURN(hp.in_bias, ReadVector(w, p + "in_proj.bias", {proj}));
      ASSIGN_OR_RETURN(hp.out_bias, ReadVector(w, p + "out_proj.bias", {hidden}));
    }
  }
  ASSIGN_OR_RETURN(w_out_,
                   UploadStacked(weights_, w, {p + "out_proj.weight"}, {hidden}, inner, kDType));
  std::vector<float> dt_total(nh), a(nh);
  for (int64_t h = 0; h < nh; ++h) {
    dt_total[h] = hp.dt_bias[h] + (hp.in_bias.empty() ? 0.0f : hp.in_bias[zxbc + h]);
    a[h] = -std::exp(hp.a_log[h]);
  }
  ASSIGN_OR_RETURN(dt_bias_, UploadVector(weights_, dt_total));
  ASSIGN_OR_RETURN(a_, UploadVector(weights_, a));
  ASSIGN_OR_RETURN(d_, UploadVector(weights_, hp.d));
  ASSIGN_OR_RETURN(conv_w_, UploadVector(weights_, hp.conv_w));
  ASSIGN_OR_RETURN(conv_b_, UploadVector(weights_, hp.conv_b));
  ASSIGN_OR_RETURN(norm_, UploadVector(weights_, hp.norm));
  ASSIGN_OR_RETURN(in_bias_, UploadVector(weights_, hp.in_bias));
  ASSIGN_OR_RETURN(out_bias_, UploadVector(weights_, hp.out_bias));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<CudaMamba2Layer>> CudaMamba2Layer::Create(
    const LayerContext& context, CudaContext* cuda) {
  const auto* spec = std::get_if<Mamba2Spec>(&context.mixer->params);
  if (spec == nullptr) return absl::InvalidArgumentError("cuda.mamba2: not a Mamba2 layer");
  if (std::string reason = Mamba2CudaUnsupported(*spec); !reason.empty())
    return absl::InvalidArgumentError(absl::StrCat("cuda.mamba2: ", reason));
  if (context.cache.num_state_slots <= 0)
    return absl::InvalidArgumentError("cuda.mamba2: the cache has no state slots");
  std::unique_ptr<CudaMamba2Layer> layer(new CudaMamba2Layer());
  layer->cuda_ = cuda;
  layer->spec_ = *spec;
  layer->hidden_ = context.model->hidden_size;
  const int gn = spec->num_groups * spec->state_size;
  layer->conv_dim_ = spec->inner_size + 2 * gn;
  layer->zxbc_width_ = 2 * spec->inner_size + 2 * gn;
  layer->num_state_slots_ = context.cache.num_state_slots;
  RETURN_IF_ERROR(layer->LoadWeights(context));
  const size_t slots = layer->num_state_slots_;
  const size_t conv_bytes =
      slots * std::max(spec->conv_kernel - 1, 1) * layer->conv_dim_ * sizeof(float);
  const size_t ssm_bytes =
      slots * spec->num_heads * spec->head_dim * spec->state_size * sizeof(float);
  ASSIGN_OR_RETURN(layer->conv_state_, DeviceBuffer::Allocate(conv_bytes));
  ASSIGN_OR_RETURN(layer->ssm_state_, DeviceBuffer::Allocate(ssm_bytes));
  RETURN_IF_CUDA_ERROR(cudaMemset(layer->conv_state_.data(), 0, conv_bytes));
  RETURN_IF_CUDA_ERROR(cudaMemset(layer->ssm_state_.data(), 0, ssm_bytes));
  RETURN_IF_CUDA_ERROR(cudaDeviceSynchronize());  // order the legacy-stream memsets first
  return layer;
}

absl::Status CudaMamba2Layer::Plan(const StepBatch& batch) {
  scan_items_.clear();
  decode_items_.clear();
  conv_items_.clear();
  for (const ScheduledChunk& c : batch.chunks) {
    if (!c.state_slot.valid() || c.state_slot.value >= num_state_slots_)
      return absl::InvalidArgumentError(absl::StrCat("cuda.mamba2: state slot ", c.state_slot.value,
                                                     " is not in [0, ", num_state_slots_, ")"));
    if (c.first_token < 0 || c.num_tokens < 0 || c.first_token + c.num_tokens > batch.num_tokens())
      return absl::InvalidArgumentError("cuda.mamba2: chunk tokens outside the step");
    if (c.num_tokens == 0) continue;
    const int fresh = c.num_computed == 0 ? 1 : 0;
    const Mamba2ScanItem item{c.first_token, c.num_tokens, c.state_slot.value, fresh};
    (c.num_tokens == 1 ? decode_items_ : scan_items_).push_back(item);
    for (int s = 0; s < c.num_tokens; s += kMamba2ConvSegment)
      conv_items_.push_back({c.first_token, c.num_tokens, s,
                             std::min(kMamba2ConvSegment, c.num_tokens - s), c.state_slot.value,
                             fresh});
  }
  // Longest requests first: their CTAs walk the most chunks.
  std::stable_sort(
      scan_items_.begin(), scan_items_.end(),
      [](const Mamba2ScanItem& a, const Mamba2ScanItem& b) { return a.num_tokens > b.num_tokens; });
  int scan_tokens = 0;
  for (const Mamba2ScanItem& item : scan_items_) scan_tokens += item.num_tokens;
  chunks_.clear();
  if (scan_tokens >= parallel_scan_min_tokens_) chunks_ = BuildMamba2Chunks(scan_items_);
  using A = PlanUpload;
  const cudaStream_t stream = cuda_->stream();
  RETURN_IF_ERROR(upload_.Upload(
      {A::Of(scan_items_), A::Of(decode_items_), A::Of(conv_items_), A::Of(chunks_)}, stream));
  scan_dev_ = upload_.at<Mamba2ScanItem>(0);
  decode_dev_ = upload_.at<Mamba2ScanItem>(1);
  conv_dev_ = upload_.at<Mamba2ConvItem>(2);
  chunks_dev_ = upload_.at<Mamba2ChunkItem>(3);
  if (!chunks_.empty())
    RETURN_IF_ERROR(chunk_workspace_.Reserve(Mamba2ChunkWorkspaceBytes(
        static_cast<int>(chunks_.size()), spec_.num_heads, spec_.head_dim, spec_.state_size)));

  num_tokens_ = batch.num_tokens();
  const size_t t = std::max(num_tokens_, 1);
  const size_t inner = spec_.inner_size;
  RETURN_IF_ERROR(zxbc_.Reserve(t * zxbc_width_ * 2));
  RETURN_IF_ERROR(dt_.Reserve(t * spec_.num_heads * sizeof(float)));
  RETURN_IF_ERROR(xbc_.Reserve(t * conv_dim_ * 2));
  RETURN_IF_ERROR(y_.Reserve(t * inner * sizeof(float)));
  RETURN_IF_ERROR(normed_.Reserve(t * inner * 2));
  return absl::OkStatus();
}

bool CudaMamba2Layer::AppendGraphKey(std::vector<uint64_t>& key) const {
  // A scan picks the sequential or the chunk-parallel kernel on the host.
  if (!scan_items_.empty()) return false;
  // Conv and SSM state and the weights are fixed at Create.
  auto add = [&](const void* p) { key.push_back(reinterpret_cast<uintptr_t>(p)); };
  for (const DeviceBuffer* b : {&zxbc_, &dt_, &xbc_, &y_, &normed_}) add(b->data());
  add(conv_dev_);
  add(decode_dev_);
  key.push_back(static_cast<uint64_t>(num_tokens_));
  key.push_back(conv_items_.size());
  key.push_back(decode_items_.size());
  return true;
}

void CudaMamba2Layer::Run(const Activations& in, const Activations& out) {
  JUNCTION_CHECK(in.num_tokens == num_tokens_, "Run over %d tokens, planned %d", in.num_tokens,
                 num_tokens_);
  if (num_tokens_ == 0) return;
  const cudaStream_t stream = cuda_->stream();
  const int inner = spec_.inner_size, nh = spec_.num_heads;
  CHECK_CUDA(cudaGetLastError());
  absl::Status status = Gemm(
      *cuda_, {in.data, w_zxbc_, zxbc_.data(), num_tokens_, zxbc_width_, hidden_, kDType, kDType});
  JUNCTION_CHECK(status.ok(), "%s", status.ToString().c_str());
  status =
      Gemm(*cuda_, {in.data, w_dt_, dt_.data(), num_tokens_, nh, hidden_, kDType, DType::kF32});
  JUNCTION_CHECK(status.ok(), "%s", status.ToString().c_str());

  Mamba2ConvParams conv;
  conv.proj = zxbc_.data();
  conv.proj_stride = zxbc_width_;
  conv.in_offset = inner;
  conv.in_bias = in_bias_ ? in_bias_ + inner : nullptr;
  conv.weight = conv_w_;
  conv.bias = conv_b_;
  conv.conv_state = conv_state_.as<float>();
  conv.out = xbc_.data();
  conv.items = conv_dev_;
  conv.num_items = static_cast<int>(conv_items_.size());
  conv.conv_dim = conv_dim_;
  conv.kernel = spec_.conv_kernel;
  LaunchMamba2Conv(conv, stream);

  Mamba2SsdParams ssd;
  ssd.xbc = xbc_.data();
  ssd.xbc_stride = conv_dim_;
  ssd.dt = dt_.as<float>();
  ssd.dt_stride = nh;
  ssd.dt_bias = dt_bias_;
  ssd.a = a_;
  ssd.d = d_;
  ssd.dt_min = spec_.dt_min;
  ssd.dt_max = spec_.dt_max;
  ssd.ssm_state = ssm_state_.as<float>();
  ssd.y = y_.as<float>();
  ssd.num_heads = nh;
  ssd.head_dim = spec_.head_dim;
  ssd.state_size = spec_.state_size;
  ssd.num_groups = spec_.num_groups;
  Mamba2SsdParams scan = ssd;
  scan.items = scan_dev_;
  scan.num_items = static_cast<int>(scan_items_.size());
  if (chunks_.empty()) {
    LaunchMamba2ChunkScan(scan, cuda_->num_sms(), stream);
  } else {
    scan.chunks = chunks_dev_;
    scan.num_chunks = static_cast<int>(chunks_.size());
    SetMamba2ChunkWorkspace(scan, chunk_workspace_.data());
    LaunchMamba2ParallelScan(scan, stream);
  }
  Mamba2SsdParams decode = ssd;
  decode.items = decode_dev_;
  decode.num_items = static_cast<int>(decode_items_.size());
  LaunchMamba2DecodeStep(decode, stream);

  Mamba2GatedNormParams norm;
  norm.y = y_.as<float>();
  norm.z = zxbc_.data();
  norm.z_stride = zxbc_width_;
  norm.z_bias = in_bias_;
  norm.weight = norm_;
  norm.out = normed_.data();
  norm.num_tokens = num_tokens_;
  norm.inner = inner;
  norm.group_width = spec_.norm_per_group ? inner / spec_.num_groups : inner;
  norm.eps = spec_.norm_eps;
  LaunchMamba2GatedNorm(norm, stream);

  status =
      Gemm(*cuda_, {normed_.data(), w_out_, out.data, num_tokens_, hidden_, inner, kDType, kDType});
  JUNCTION_CHECK(status.ok(), "%s", status.ToString().c_str());
  if (out_bias_) LaunchAddBias(out.data, out_bias_, num_tokens_, hidden_, kDType, stream);
  CHECK_CUDA(cudaGetLastError());
}

}  // namespace junction::cuda
