// Dense kernels and cuBLASLt GEMMs against float64 references on awkward sizes.
#include "backends/cuda/kernels/dense_ops.h"

#include "backends/cuda/cuda_context.h"
#include "backends/cuda/gemm.h"
#include "backends/cuda/kernels/launch.cuh"
#include "backends/cuda/kernels/skinny_gemm.h"
#include "engine/model/rope.h"
#include "tests/backends/cuda/cuda_test_util.h"

namespace junction::cuda::testing {
namespace {

CudaContext& Cuda() {
  auto c = CudaContext::Default();
  REQUIRE(c.ok());
  return **c;
}

TEST_CASE("gemm bf16/fp16 in, 16-bit or float32 out", "[gpu][cuda]") {
  if (!HaveGpu()) return;
  std::mt19937 rng(1);
  for (DType dtype : {DType::kBF16, DType::kF16})
    for (DType out_type : {dtype, DType::kF32})
      for (auto [m, n, k] :
           // m <= 2 with k % 8 == 0 runs the skinny kernel (1 and 2 rows, short and long k, a
           // remainder of vectors past the unrolled loop); the rest cuBLASLt.
           {std::tuple{1, 3, 17}, std::tuple{17, 63, 64}, std::tuple{65, 129, 1000},
            std::tuple{1000, 256, 64}, std::tuple{3, 1030, 520}, std::tuple{1, 1, 8},
            std::tuple{1, 4097, 4104}, std::tuple{2, 33, 2056}, std::tuple{2, 300, 14336},
            std::tuple{4, 300, 14336}, std::tuple{4, 7, 24}, std::tuple{5, 40, 64}}) {
        INFO(DTypeName(dtype) << " -> " << DTypeName(out_type) << " m=" << m << " n=" << n
                              << " k=" << k);
        const auto x = RoundToHalf(RandomVector(rng, size_t(m) * k), dtype);
        const auto w = RoundToHalf(RandomVector(rng, size_t(n) * k), dtype);
        DeviceBuffer xd = UploadHalf(x, dtype), wd = UploadHalf(w, dtype);
        auto yd = DeviceBuffer::Allocate(size_t(m) * n * 4);
        REQUIRE(yd.ok());
        REQUIRE(cudaMemset(yd->data(), 0xff, size_t(m) * n * 4) == cudaSuccess);
        REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
        const float alpha = 0.5f;
        REQUIRE(
            Gemm(Cuda(), {xd.data(), wd.data(), yd->data(), m, n, k, dtype, out_type, alpha}).ok());
        const std::vector<float> y = out_type == DType::kF32
                                         ? DownloadRaw<float>(*yd, size_t(m) * n)
                                         : DownloadHalf(*yd, size_t(m) * n, dtype);
        std::vector<double> ref(size_t(m) * n);
        for (int i = 0; i < m; ++i)
          for (int j = 0; j < n; ++j) {
            double acc = 0;
            for (int t = 0; t < k; ++t) acc += double(x[size_t(i) * k + t]) * w[size_t(j) * k + t];
            ref[size_t(i) * n + j] = alpha * acc;
          }
        const ErrorStats s = Compare(y, ref);
        INFO("relative L2 " << s.relative_l2);
        CHECK_FALSE(s.has_nan);
        // Float32 out keeps the float32 accumulation's accuracy; 16-bit out adds its rounding.
        CHECK(s.relative_l2 <= (out_type == DType::kF32 ? 1e-5 : 1e-2));
      }
}

TEST_CASE("skinny gemm as a programmatic dependent reads what its predecessor wrote",
          "[gpu][cuda]") {
  if (!HaveGpu()) return;
  // Both launched as programmatic dependents (sm_90; elsewhere this is the ordinary launch).
  const bool was = ProgrammaticLaunch();
  SetProgrammaticLaunch(true);
  std::mt19937 rng(11);
  const cudaStream_t stream = Cuda().stream();
  const DType dtype = DType::kBF16;
  for (int m : {1, 2})
    for (auto [n, k] : {std::pair{4096, 14336}, std::pair{33, 2056}}) {
      const auto gate_up = RoundToHalf(RandomVector(rng, size_t(m) * 2 * k, 2.0f), dtype);
      const auto w = RoundToHalf(RandomVector(rng, size_t(n) * k), dtype);
      DeviceBuffer gu_d = UploadHalf(gate_up, dtype), w_d = UploadHalf(w, dtype);
      for (int rep = 0; rep < 5; ++rep) {
        INFO("m=" << m << " n=" << n << " k=" << k << " rep " << rep);
        // The GEMM's input is NaN until SwiGlu, the kernel just before it, has run: a GEMM
        // that read it before waiting would give NaN.
        DeviceBuffer act_d = PoisonedHalf(size_t(m) * k);
        auto y_d = DeviceBuffer::Allocate(size_t(m) * n * 4);
        REQUIRE(y_d.ok());
        LaunchSwiGlu({gu_d.data(), act_d.data(), m, k}, dtype, stream);
        const SkinnyGemmParams p{act_d.data(), w_d.data(), y_d->data(), m, n, k, 1.0f};
        REQUIRE(SkinnyGemmSupported(p, dtype));
        LaunchSkinnyGemm(p, dtype, DType::kF32, stream);
        REQUIRE(cudaStreamSynchronize(stream) == cudaSuccess);
        const std::vector<float> act = DownloadHalf(act_d, size_t(m) * k, dtype);
        const std::vector<float> y = DownloadRaw<float>(*y_d, size_t(m) * n);
        std::vector<double> ref(size_t(m) * n);
        for (int i = 0; i < m; ++i)
          for (int j = 0; j < n; ++j) {
            double acc = 0;
            for (int t = 0; t < k; ++t) acc += double(act[size_t(i) * k + t]) * w[size_t(j) * k + t];
            ref[size_t(i) * n + j] = acc;
          }
        const ErrorStats s = Compare(y, ref);
        CHECK_FALSE(s.has_nan);
        CHECK(s.relative_l2 <= 1e-5);
      }
    }
  SetProgrammaticLaunch(was);
}

TEST_CASE("embedding, add + rmsnorm (all rows and selected rows), swiglu, bias", "[gpu][cuda]") {
  if (!HaveGpu()) return;
  std::mt19937 rng(2);
  const cudaStream_t stream = Cuda().stream();
  for (DType dtype : {DType::kBF16, DType::kF16})
    // Widths reach every AddRmsNorm kernel: the two-pass loop (odd, > 8192) and the register
    // kernel with 2, 4 and 8 runs per thread.
    for (int width : {1, 17, 64, 1000, 2052, 4096, 4100, 8192, 12288})
      for (int rows : {1, 3, 65}) {
        INFO(DTypeName(dtype) << " width " << width << " rows " << rows);
        const int vocab = 37;
        const auto table = RoundToHalf(RandomVector(rng, size_t(vocab) * width), dtype);
        std::vector<int32_t> ids(rows);
        for (int& id : ids) id = rng() % vocab;
        DeviceBuffer table_d = UploadHalf(table, dtype), ids_d = UploadRaw(ids);
        auto x_d = DeviceBuffer::Allocate(size_t(rows) * width * 4);
        REQUIRE(x_d.ok());
        LaunchEmbedding({ids_d.as<int32_t>(), table_d.data(), x_d->as<float>(), rows, width, 1.5f},
                        dtype, stream);
        std::vector<float> x = DownloadRaw<float>(*x_d, size_t(rows) * width);
        std::vector<double> ref_x(x.size());
        for (int r = 0; r < rows; ++r)
          for (int i = 0; i < width; ++i)
            ref_x[size_t(r) * width + i] = 1.5 * table[size_t(ids[r]) * width + i];
        CHECK(Compare(x, ref_x).relative_l2 <= 1e-6);

        const auto delta = RoundToHalf(RandomVector(rng, x.size()), dtype);
        const auto weight = RandomVector(rng, width);
        DeviceBuffer delta_d = UploadHalf(delta, dtype), w_d = UploadRaw(weight);
        DeviceBuffer out_d = PoisonedHalf(x.size());
        for (bool plus_one : {false, true}) {
          REQUIRE(cudaMemcpy(x_d->data(), x.data(), x.size() * 4, cudaMemcpyHostToDevice) ==
                  cudaSuccess);
          REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
          AddRmsNormParams p;
          p.residual = x_d->as<float>();
          p.delta = delta_d.data();
          p.delta_scale = 0.25f;
          p.weight = w_d.as<float>();
          p.out = out_d.data();
          p.num_rows = rows;
          p.width = width;
          p.eps = 1e-5f;
          p.plus_one = plus_one;
          LaunchAddRmsNorm(p, dtype, stream);
          const std::vector<float> out = DownloadHalf(out_d, x.size(), dtype);
          const std::vector<float> res = DownloadRaw<float>(*x_d, x.size());
          std::vector<double> ref_res(x.size()), ref_out(x.size());
          for (int r = 0; r < rows; ++r) {
            double ss = 0;
            for (int i = 0; i < width; ++i) {
              const size_t at = size_t(r) * width + i;
              ref_res[at] = double(x[at]) + 0.25 * delta[at];
              ss += ref_res[at] * ref_res[at];
            }
            const double inv = 1.0 / std::sqrt(ss / width + 1e-5);
            for (int i = 0; i < width; ++i) {
              const size_t at = size_t(r) * width + i;
              ref_out[at] = ref_res[at] * inv * (plus_one ? 1.0 + weight[i] : weight[i]);
            }
          }
          CHECK(Compare(res, ref_res).relative_l2 <= 1e-6);
          const ErrorStats s = Compare(out, ref_out);
          CHECK_FALSE(s.has_nan);
          CHECK(s.relative_l2 <= 1e-2);
          // Selected rows (the last add + norm of the logit rows): every other row, in reverse
          // order, with the delta added to those rows only.
          const int picked_rows = (rows + 1) / 2;
          std::vector<int32_t> pick(picked_rows);
          for (int r = 0; r < picked_rows; ++r) pick[r] = rows - 1 - 2 * r;
          REQUIRE(cudaMemcpy(x_d->data(), x.data(), x.size() * 4, cudaMemcpyHostToDevice) ==
                  cudaSuccess);
          REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
          DeviceBuffer pick_d = UploadRaw(pick);
          DeviceBuffer rows_out = PoisonedHalf(size_t(picked_rows) * width);
          p.rows = pick_d.as<int32_t>();
          p.num_rows = picked_rows;
          p.out = rows_out.data();
          LaunchAddRmsNorm(p, dtype, stream);
          const std::vector<float> picked =
              DownloadHalf(rows_out, size_t(picked_rows) * width, dtype);
          const std::vector<float> picked_res = DownloadRaw<float>(*x_d, x.size());
          std::vector<double> ref_picked(picked.size());
          std::vector<double> ref_picked_res(x.begin(), x.end());
          for (int r = 0; r < picked_rows; ++r)
            for (int i = 0; i < width; ++i) {
              const size_t from = size_t(pick[r]) * width + i;
              ref_picked[size_t(r) * width + i] = ref_out[from];
              ref_picked_res[from] = ref_res[from];
            }
          const ErrorStats picked_stats = Compare(picked, ref_picked);
          CHECK_FALSE(picked_stats.has_nan);
          CHECK(picked_stats.relative_l2 <= 1e-2);
          CHECK(Compare(picked_res, ref_picked_res).relative_l2 <= 1e-6);
        }

        const auto gate_up = RoundToHalf(RandomVector(rng, size_t(rows) * 2 * width, 2.0f), dtype);
        DeviceBuffer gu_d = UploadHalf(gate_up, dtype), act_d = PoisonedHalf(size_t(rows) * width);
        LaunchSwiGlu({gu_d.data(), act_d.data(), rows, width}, dtype, stream);
        const std::vector<float> act = DownloadHalf(act_d, size_t(rows) * width, dtype);
        std::vector<double> ref_act(act.size());
        for (int r = 0; r < rows; ++r)
          for (int i = 0; i < width; ++i) {
            const double g = gate_up[size_t(r) * 2 * width + i];
            const double u = gate_up[size_t(r) * 2 * width + width + i];
            ref_act[size_t(r) * width + i] = g / (1.0 + std::exp(-g)) * u;
          }
        const ErrorStats s = Compare(act, ref_act);
        CHECK_FALSE(s.has_nan);
        CHECK(s.relative_l2 <= 1e-2);

        const auto bias = RandomVector(rng, width);
        DeviceBuffer bias_d = UploadRaw(bias);
        LaunchAddBias(act_d.data(), bias_d.as<float>(), rows, width, dtype, stream);
        const std::vector<float> biased = DownloadHalf(act_d, act.size(), dtype);
        for (size_t i = 0; i < act.size(); ++i) ref_act[i] = double(act[i]) + bias[i % width];
        CHECK(Compare(biased, ref_act).relative_l2 <= 1e-2);
      }
}

// q/k/v split + bias + q/k RMSNorm + RoPE (default, llama3, yarn, partial) + paged K/V write.
TEST_CASE("prepare qkv: bias, qk norm, rope variants, paged cache write", "[gpu][cuda]") {
  if (!HaveGpu()) return;
  std::mt19937 rng(3);
  const cudaStream_t stream = Cuda().stream();
  struct Case {
    int hq, hkv, d, rotary;
    RopeType type;
    bool bias, norm;
    DType dtype;
  };
  for (const Case& c : {Case{4, 2, 16, 16, RopeType::kDefault, false, false, DType::kBF16},
                        Case{32, 8, 128, 128, RopeType::kLlama3, true, false, DType::kBF16},
                        Case{8, 1, 64, 64, RopeType::kYarn, false, true, DType::kF16},
                        Case{6, 3, 64, 32, RopeType::kDefault, true, true, DType::kBF16},
                        Case{2, 2, 128, 0, RopeType::kNone, false, true, DType::kBF16}}) {
    INFO("heads " << c.hq << "/" << c.hkv << " d " << c.d << " rotary " << c.rotary << " type "
                  << static_cast<int>(c.type) << " bias " << c.bias << " norm " << c.norm);
    RopeSpec rope;
    rope.type = c.type;
    rope.rotary_dim = c.rotary;
    rope.theta = 500000;
    rope.factor = 8;
    rope.original_max_positions = 64;
    const RopeFrequencies freq = ComputeRopeFrequencies(rope);
    const int tokens = 67, block_size = 16, num_blocks = 9;
    const int heads = c.hq + 2 * c.hkv;
    const auto qkv = RoundToHalf(RandomVector(rng, size_t(tokens) * heads * c.d), c.dtype);
    const auto bias = RandomVector(rng, size_t(heads) * c.d);
    const auto qn = RandomVector(rng, c.d), kn = RandomVector(rng, c.d);
    std::vector<int32_t> positions(tokens);
    std::vector<int64_t> slots(tokens);
    for (int t = 0; t < tokens; ++t) {
      positions[t] = 3 * t + 1000 * (t % 3);
      slots[t] = (t * 37) % (num_blocks * block_size);  // distinct: 37 is coprime to 144
    }
    DeviceBuffer qkv_d = UploadHalf(qkv, c.dtype), bias_d = UploadRaw(bias);
    DeviceBuffer qn_d = UploadRaw(qn), kn_d = UploadRaw(kn);
    DeviceBuffer pos_d = UploadRaw(positions), slot_d = UploadRaw(slots);
    DeviceBuffer inv_d = UploadRaw(freq.inv_freq.empty() ? std::vector<float>{0} : freq.inv_freq);
    const size_t cache_elems = size_t(num_blocks) * block_size * c.hkv * c.d;
    DeviceBuffer q_d = PoisonedHalf(size_t(tokens) * c.hq * c.d);
    DeviceBuffer k_d = PoisonedHalf(cache_elems), v_d = PoisonedHalf(cache_elems);
    PrepareQkvParams p;
    p.qkv = qkv_d.data();
    p.bias = c.bias ? bias_d.as<float>() : nullptr;
    p.q_norm = c.norm ? qn_d.as<float>() : nullptr;
    p.k_norm = c.norm ? kn_d.as<float>() : nullptr;
    p.norm_eps = 1e-6f;
    p.inv_freq = freq.inv_freq.empty() ? nullptr : inv_d.as<float>();
    p.rotary_dim = c.rotary;
    p.attention_scaling = freq.attention_scaling;
    p.positions = pos_d.as<int32_t>();
    p.slots = slot_d.as<int64_t>();
    p.q_out = q_d.data();
    p.k_cache = k_d.data();
    p.v_cache = v_d.data();
    p.num_tokens = tokens;
    p.num_heads = c.hq;
    p.num_kv_heads = c.hkv;
    p.head_dim = c.d;
    LaunchPrepareQkv(p, c.dtype, stream);
    const auto q_out = DownloadHalf(q_d, size_t(tokens) * c.hq * c.d, c.dtype);
    const auto k_out = DownloadHalf(k_d, cache_elems, c.dtype);
    const auto v_out = DownloadHalf(v_d, cache_elems, c.dtype);
    std::vector<float> q_got, k_got, v_got;
    std::vector<double> q_ref, k_ref, v_ref;
    for (int t = 0; t < tokens; ++t)
      for (int h = 0; h < heads; ++h) {
        std::vector<double> x(c.d);
        for (int i = 0; i < c.d; ++i)
          x[i] =
              double(qkv[(size_t(t) * heads + h) * c.d + i]) + (c.bias ? bias[h * c.d + i] : 0.0);
        const bool is_q = h < c.hq, is_k = !is_q && h < c.hq + c.hkv;
        if ((is_q || is_k) && c.norm) {
          double ss = 0;
          for (double e : x) ss += e * e;
          const double inv = 1.0 / std::sqrt(ss / c.d + 1e-6);
          for (int i = 0; i < c.d; ++i) x[i] *= inv * (is_q ? qn[i] : kn[i]);
        }
        if ((is_q || is_k) && !freq.inv_freq.empty()) {
          const int half = c.rotary / 2;
          for (int i = 0; i < half; ++i) {
            const double angle = double(freq.inv_freq[i]) * positions[t];
            const double cs = std::cos(angle) * freq.attention_scaling;
            const double sn = std::sin(angle) * freq.attention_scaling;
            const double a = x[i], b = x[i + half];
            x[i] = a * cs - b * sn;
            x[i + half] = b * cs + a * sn;
          }
        }
        for (int i = 0; i < c.d; ++i) {
          if (is_q) {
            q_got.push_back(q_out[(size_t(t) * c.hq + h) * c.d + i]);
            q_ref.push_back(x[i]);
          } else {
            const int kvh = is_k ? h - c.hq : h - c.hq - c.hkv;
            const size_t at = (size_t(slots[t]) * c.hkv + kvh) * c.d + i;
            (is_k ? k_got : v_got).push_back((is_k ? k_out : v_out)[at]);
            (is_k ? k_ref : v_ref).push_back(x[i]);
          }
        }
      }
    for (auto [got, ref] :
         {std::pair{&q_got, &q_ref}, std::pair{&k_got, &k_ref}, std::pair{&v_got, &v_ref}}) {
      const ErrorStats s = Compare(*got, *ref);
      INFO("relative L2 " << s.relative_l2);
      CHECK_FALSE(s.has_nan);
      CHECK(s.relative_l2 <= 1e-2);
    }
  }
}

// Window-policy RoPE (float64 angles far past 2^16, the sink query at its own position) on a
// gated projection (Qwen3.5: per q head the query then its gate), and the output gate.
TEST_CASE("prepare qkv: gated q, exact-angle rope, sink queries; output gate",
          "[gpu][cuda][window]") {
  if (!HaveGpu()) return;
  std::mt19937 rng(5);
  const cudaStream_t stream = Cuda().stream();
  const int hq = 4, hkv = 2, d = 64, rotary = 32, tokens = 19, block_size = 16, num_blocks = 2;
  RopeSpec rope;
  rope.type = RopeType::kDefault;
  rope.rotary_dim = rotary;
  rope.theta = 10000;
  const RopeFrequencies freq = ComputeRopeFrequencies(rope);
  const int width = (2 * hq + 2 * hkv) * d;
  const DType dtype = DType::kBF16;
  const auto qkv = RoundToHalf(RandomVector(rng, size_t(tokens) * width), dtype);
  const auto bias = RandomVector(rng, width, 0.3f);
  const auto qn = RandomVector(rng, d), kn = RandomVector(rng, d);
  std::vector<int32_t> positions(tokens), exact(tokens, 1), sinks(tokens);
  std::vector<int64_t> slots(tokens);
  for (int t = 0; t < tokens; ++t) {
    positions[t] = 1000003 + 37 * t;  // float32 angles are off by ~0.05 rad here
    sinks[t] = t % 3 == 0 ? -1 : (t * 7) % 100;
    slots[t] = (t * 5) % (num_blocks * block_size);  // distinct: 5 is coprime to 32
  }
  DeviceBuffer qkv_d = UploadHalf(qkv, dtype), bias_d = UploadRaw(bias);
  DeviceBuffer qn_d = UploadRaw(qn), kn_d = UploadRaw(kn), inv_d = UploadRaw(freq.inv_freq);
  DeviceBuffer pos_d = UploadRaw(positions), slot_d = UploadRaw(slots);
  DeviceBuffer exact_d = UploadRaw(exact), sinks_d = UploadRaw(sinks);
  const size_t q_elems = size_t(tokens) * hq * d;
  const size_t cache_elems = size_t(num_blocks) * block_size * hkv * d;
  DeviceBuffer q_d = PoisonedHalf(q_elems), q_sink_d = PoisonedHalf(q_elems);
  DeviceBuffer k_d = PoisonedHalf(cache_elems), v_d = PoisonedHalf(cache_elems);
  PrepareQkvParams p;
  p.qkv = qkv_d.data();
  p.bias = bias_d.as<float>();
  p.q_norm = qn_d.as<float>();
  p.k_norm = kn_d.as<float>();
  p.inv_freq = inv_d.as<float>();
  p.rotary_dim = rotary;
  p.positions = pos_d.as<int32_t>();
  p.slots = slot_d.as<int64_t>();
  p.exact_rope = exact_d.as<int32_t>();
  p.sink_positions = sinks_d.as<int32_t>();
  p.output_gate = true;
  p.q_out = q_d.data();
  p.q_sink_out = q_sink_d.data();
  p.k_cache = k_d.data();
  p.v_cache = v_d.data();
  p.num_tokens = tokens;
  p.num_heads = hq;
  p.num_kv_heads = hkv;
  p.head_dim = d;
  LaunchPrepareQkv(p, dtype, stream);
  const auto q_out = DownloadHalf(q_d, q_elems, dtype);
  const auto q_sink_out = DownloadHalf(q_sink_d, q_elems, dtype);
  const auto k_out = DownloadHalf(k_d, cache_elems, dtype);
  const auto v_out = DownloadHalf(v_d, cache_elems, dtype);
  std::vector<float> got[4];  // q, sink q, k, v
  std::vector<double> want[4];
  auto rotate = [&](std::vector<double> x, int position) {
    for (int i = 0; i < rotary / 2; ++i) {
      const double angle = double(freq.inv_freq[i]) * position;
      const double a = x[i], b = x[i + rotary / 2];
      x[i] = a * std::cos(angle) - b * std::sin(angle);
      x[i + rotary / 2] = b * std::cos(angle) + a * std::sin(angle);
    }
    return x;
  };
  for (int t = 0; t < tokens; ++t)
    for (int h = 0; h < hq + 2 * hkv; ++h) {
      const int col = h < hq ? h * 2 * d : 2 * hq * d + (h - hq) * d;
      std::vector<double> x(d);
      for (int i = 0; i < d; ++i) x[i] = double(qkv[size_t(t) * width + col + i]) + bias[col + i];
      const bool is_q = h < hq, is_k = !is_q && h < hq + hkv;
      if (is_q || is_k) {
        double ss = 0;
        for (double e : x) ss += e * e;
        const double inv = 1.0 / std::sqrt(ss / d + 1e-6);
        for (int i = 0; i < d; ++i) x[i] *= inv * (is_q ? qn[i] : kn[i]);
      }
      const std::vector<double> rotated = is_q || is_k ? rotate(x, positions[t]) : x;
      for (int i = 0; i < d; ++i) {
        if (is_q) {
          got[0].push_back(q_out[(size_t(t) * hq + h) * d + i]);
          want[0].push_back(rotated[i]);
          if (sinks[t] >= 0) {
            got[1].push_back(q_sink_out[(size_t(t) * hq + h) * d + i]);
            want[1].push_back(rotate(x, sinks[t])[i]);
          }
        } else {
          const int kvh = is_k ? h - hq : h - hq - hkv;
          const size_t at = (size_t(slots[t]) * hkv + kvh) * d + i;
          got[is_k ? 2 : 3].push_back((is_k ? k_out : v_out)[at]);
          want[is_k ? 2 : 3].push_back(rotated[i]);
        }
      }
    }
  for (int i = 0; i < 4; ++i) {
    const ErrorStats s = Compare(got[i], want[i]);
    INFO("tensor " << i << " (q, sink q, k, v): relative L2 " << s.relative_l2);
    WARN("[window] prepare qkv tensor " << i << " (q, sink q, k, v): relative L2 "
                                        << s.relative_l2);
    CHECK_FALSE(s.has_nan);
    CHECK(s.relative_l2 <= 1e-2);
  }

  // The output gate: x *= sigmoid(gate + bias), gate columns [h * 2d + d, h * 2d + 2d).
  const auto x = RoundToHalf(RandomVector(rng, q_elems), dtype);
  DeviceBuffer x_d = UploadHalf(x, dtype);
  OutputGateParams g;
  g.x = x_d.data();
  g.qkv = qkv_d.data();
  g.bias = bias_d.as<float>();
  g.num_tokens = tokens;
  g.num_heads = hq;
  g.head_dim = d;
  g.qkv_width = width;
  LaunchOutputGate(g, dtype, stream);
  const auto gated = DownloadHalf(x_d, q_elems, dtype);
  std::vector<double> gated_ref(q_elems);
  for (int t = 0; t < tokens; ++t)
    for (int h = 0; h < hq; ++h)
      for (int i = 0; i < d; ++i) {
        const int col = h * 2 * d + d + i;
        const double gate = double(qkv[size_t(t) * width + col]) + bias[col];
        const size_t at = (size_t(t) * hq + h) * d + i;
        gated_ref[at] = x[at] / (1.0 + std::exp(-gate));
      }
  const ErrorStats s = Compare(gated, gated_ref);
  INFO("output gate relative L2 " << s.relative_l2);
  WARN("[window] output gate: relative L2 " << s.relative_l2);
  CHECK_FALSE(s.has_nan);
  CHECK(s.relative_l2 <= 1e-2);
}

}  // namespace
}  // namespace junction::cuda::testing
