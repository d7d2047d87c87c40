// Gated DeltaNet and PaTH models end to end on the CPU: golden fixtures (Qwen3.5 from
// transformers; fla PaTH with and without the forget gate and fla GDN from float64 references),
// decode against full recompute over 200 steps on tiny random checkpoints written in fla's exact
// format, batched requests against single ones, and fla's config defaults.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "backends/cpu/cpu_backends.h"
#include "engine/model/model_config.h"
#include "engine/model/safetensors.h"
#include "nlohmann/json.hpp"
#include "tests/support/golden.h"

namespace junction::testing {
namespace {

TEST_CASE("golden qwen3_5_gdn", "[golden]") { CheckGoldenCase("qwen3_5_gdn", 0); }
TEST_CASE("golden fla_path_fox", "[golden]") { CheckGoldenCase("fla_path_fox", 0); }
TEST_CASE("golden fla_path_nogate", "[golden]") { CheckGoldenCase("fla_path_nogate", 0); }
TEST_CASE("golden fla_gdn", "[golden]") { CheckGoldenCase("fla_gdn", 0); }
TEST_CASE("golden GDN and PaTH models, prefill in chunks of 16", "[golden]") {
  for (const char* name : {"qwen3_5_gdn", "fla_path_fox", "fla_path_nogate", "fla_gdn"})
    CheckGoldenCase(name, 16);
}

// Writes random weights of the given shapes plus config.json into a fresh temp directory.
class TinyCheckpoint {
 public:
  TinyCheckpoint(const std::string& name, const nlohmann::json& config, unsigned seed)
      : rng_(seed) {
    dir_ = (std::filesystem::temp_directory_path() /
            (name + "_" + std::to_string(::getpid()) + "_" + std::to_string(seed)))
               .string();
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ + "/config.json") << config.dump(2);
  }
  ~TinyCheckpoint() { std::filesystem::remove_all(dir_); }

  // Normal(mean, std) entries.
  void Add(const std::string& name, std::vector<int64_t> shape, float std, float mean = 0.0f) {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    std::normal_distribution<float> normal(mean, std);
    std::vector<float> data(n);
    for (float& x : data) x = normal(rng_);
    tensors_.push_back({name, std::move(shape), std::move(data)});
  }
  void Write() {
    std::vector<NamedTensor> named;
    for (const auto& t : tensors_) named.push_back({t.name, t.shape, t.data.data()});
    const absl::Status status = WriteSafetensorsF32(dir_ + "/model.safetensors", named);
    INFO(status.ToString());
    REQUIRE(status.ok());
  }
  const std::string& dir() const { return dir_; }

 private:
  struct Tensor {
    std::string name;
    std::vector<int64_t> shape;
    std::vector<float> data;
  };
  std::mt19937 rng_;
  std::string dir_;
  std::vector<Tensor> tensors_;
};

constexpr int kHidden = 64, kVocab = 128, kLayers = 2, kMlp = 256;

// Embeddings, norms, MLPs and head of fla's block layout.
void AddFlaSkeleton(TinyCheckpoint& ckpt) {
  ckpt.Add("model.embeddings.weight", {kVocab, kHidden}, 1.0f);
  ckpt.Add("model.norm.weight", {kHidden}, 0.1f, 1.0f);
  ckpt.Add("lm_head.weight", {kVocab, kHidden}, 0.2f);
  for (int i = 0; i < kLayers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    ckpt.Add(p + "attn_norm.weight", {kHidden}, 0.1f, 1.0f);
    ckpt.Add(p + "mlp_norm.weight", {kHidden}, 0.1f, 1.0f);
    ckpt.Add(p + "mlp.gate_proj.weight", {kMlp, kHidden}, 0.1f);
    ckpt.Add(p + "mlp.up_proj.weight", {kMlp, kHidden}, 0.1f);
    ckpt.Add(p + "mlp.down_proj.weight", {kHidden, kMlp}, 0.1f);
  }
}

// fla path_attn; intermediate_size absent (fla's default gives 256 for hidden 64).
std::unique_ptr<TinyCheckpoint> WritePath(bool forget_gate, int num_kv_heads, bool low_rank,
                                          unsigned seed) {
  const int heads = 4, head_dim = kHidden / heads, kv_dim = num_kv_heads * head_dim;
  nlohmann::json config = {{"architectures", {"PaTHAttentionForCausalLM"}},
                           {"model_type", "path_attn"},
                           {"hidden_size", kHidden},
                           {"num_hidden_layers", kLayers},
                           {"num_heads", heads},
                           {"num_kv_heads", num_kv_heads},
                           {"vocab_size", kVocab},
                           {"use_forget_gate", forget_gate},
                           {"use_low_rank_w", low_rank},
                           {"intermediate_size", nullptr},
                           {"norm_eps", 1e-6},
                           {"hidden_act", "swish"},
                           {"tie_word_embeddings", false}};
  auto ckpt = std::make_unique<TinyCheckpoint>("path", config, seed);
  AddFlaSkeleton(*ckpt);
  for (int i = 0; i < kLayers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".attn.";
    ckpt->Add(p + "q_proj.weight", {kHidden, kHidden}, 0.2f);
    ckpt->Add(p + "k_proj.weight", {kv_dim, kHidden}, 0.2f);
    ckpt->Add(p + "v_proj.weight", {kv_dim, kHidden}, 0.2f);
    ckpt->Add(p + "o_proj.weight", {kHidden, kHidden}, 0.1f);
    if (low_rank) {
      ckpt->Add(p + "w_proj.0.weight", {32, kHidden}, 0.2f);
      ckpt->Add(p + "w_proj.1.weight", {kv_dim, 32}, 0.2f);
    } else {
      ckpt->Add(p + "w_proj.weight", {kv_dim, kHidden}, 0.2f);
    }
    ckpt->Add(p + "w_conv1d.weight", {kv_dim, 1, 3}, 0.5f);
    ckpt->Add(p + "bt_proj.weight", {num_kv_heads, kHidden}, 0.2f);
    ckpt->Add(p + "bt_proj.bias", {num_kv_heads}, 0.5f);
    if (forget_gate) {
      ckpt->Add(p + "g_proj.weight", {heads, kHidden}, 0.2f);
      ckpt->Add(p + "g_proj.bias", {heads}, 0.5f, 2.0f);
    }
  }
  ckpt->Write();
  return ckpt;
}

// fla gated_deltanet with more value heads than key heads.
std::unique_ptr<TinyCheckpoint> WriteGdn(unsigned seed) {
  const int heads = 2, v_heads = 4, head_dim = 16, head_v_dim = 32;
  const int key_dim = heads * head_dim, value_dim = v_heads * head_v_dim;
  nlohmann::json config = {{"architectures", {"GatedDeltaNetForCausalLM"}},
                           {"model_type", "gated_deltanet"},
                           {"hidden_size", kHidden},
                           {"num_hidden_layers", kLayers},
                           {"num_heads", heads},
                           {"num_v_heads", v_heads},
                           {"head_dim", head_dim},
                           {"expand_v", 2.0},
                           {"vocab_size", kVocab},
                           {"conv_size", 4},
                           {"use_gate", true},
                           {"use_short_conv", true},
                           {"attn", nullptr}};
  auto ckpt = std::make_unique<TinyCheckpoint>("gdn", config, seed);
  AddFlaSkeleton(*ckpt);
  for (int i = 0; i < kLayers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".attn.";
    ckpt->Add(p + "q_proj.weight", {key_dim, kHidden}, 0.2f);
    ckpt->Add(p + "k_proj.weight", {key_dim, kHidden}, 0.2f);
    ckpt->Add(p + "v_proj.weight", {value_dim, kHidden}, 0.2f);
    ckpt->Add(p + "a_proj.weight", {v_heads, kHidden}, 0.2f);
    ckpt->Add(p + "b_proj.weight", {v_heads, kHidden}, 0.2f);
    ckpt->Add(p + "g_proj.weight", {value_dim, kHidden}, 0.2f);
    ckpt->Add(p + "q_conv1d.weight", {key_dim, 1, 4}, 0.5f);
    ckpt->Add(p + "k_conv1d.weight", {key_dim, 1, 4}, 0.5f);
    ckpt->Add(p + "v_conv1d.weight", {value_dim, 1, 4}, 0.5f);
    ckpt->Add(p + "A_log", {v_heads}, 0.5f);
    ckpt->Add(p + "dt_bias", {v_heads}, 0.5f);
    ckpt->Add(p + "o_norm.weight", {head_v_dim}, 0.1f, 1.0f);
    ckpt->Add(p + "o_proj.weight", {kHidden, value_dim}, 0.1f);
  }
  ckpt->Write();
  return ckpt;
}

// One request's chunk in slot `slot` with blocks [first_block, ...).
ScheduledChunk MakeChunk(int first, int count, int computed, int slot, int first_block,
                         int block_size) {
  ScheduledChunk chunk;
  chunk.request = RequestId(slot);
  chunk.first_token = first;
  chunk.num_tokens = count;
  chunk.num_computed = computed;
  chunk.state_slot = StateSlotId(slot);
  chunk.logits = LogitsMode::kLast;
  const int blocks = (computed + count + block_size - 1) / block_size;
  for (int b = 0; b < blocks; ++b) chunk.block_table.push_back(BlockId(first_block + b));
  return chunk;
}

std::vector<float> Forward(ModelRunner& runner, std::vector<TokenId> ids,
                           std::vector<ScheduledChunk> chunks) {
  StepBatch batch;
  batch.token_ids = std::move(ids);
  batch.chunks = std::move(chunks);
  std::vector<float> logits;
  const absl::Status status = runner.ForwardToHost(batch, logits);
  INFO(status.ToString());
  REQUIRE(status.ok());
  return logits;
}

// Prefill `prompt_len` random tokens, then 200 decode steps of random tokens; at every step the
// logits must match a full recompute of the whole sequence so far (within `tolerance`). Runs on
// one thread: the check is about numerics, and 400 forwards of a tiny model are dominated by
// OpenMP barriers on a loaded machine.
void CheckDecodeMatchesRecompute(const std::string& model_dir, int prompt_len,
                                 float tolerance = 1e-4f) {
  constexpr int kSteps = 200, kBlock = 16;
  cpu::SetCpuThreads(1);
  auto decoder = MakeCpuRunner(model_dir, 32, kBlock, 1);
  auto recompute = MakeCpuRunner(model_dir, 32, kBlock, 1);
  const int vocab = decoder->spec().vocab_size;
  std::mt19937 rng(99);
  std::uniform_int_distribution<TokenId> token(0, vocab - 1);
  std::vector<TokenId> ids(prompt_len);
  for (TokenId& id : ids) id = token(rng);
  std::vector<float> logits = Forward(*decoder, ids, {MakeChunk(0, prompt_len, 0, 0, 0, kBlock)});
  float worst = 0;
  int worst_step = -1;
  for (int step = 0; step <= kSteps; ++step) {
    const int n = static_cast<int>(ids.size());
    const std::vector<float> full = Forward(*recompute, ids, {MakeChunk(0, n, 0, 0, 0, kBlock)});
    REQUIRE(full.size() == static_cast<size_t>(vocab));
    const float diff = MaxAbsDiff(logits.data(), full.data(), vocab);
    if (!(diff <= worst)) worst = diff, worst_step = step;
    if (step == kSteps) break;
    ids.push_back(token(rng));
    logits = Forward(*decoder, {ids.back()}, {MakeChunk(0, 1, n, 0, 0, kBlock)});
  }
  INFO(model_dir << ": worst |decode - recompute| " << worst << " at step " << worst_step);
  CHECK(worst <= tolerance);
}

TEST_CASE("PaTH decode matches full recompute over 200 steps", "[golden][slow]") {
  SECTION("forget gate, GQA 4/2, low-rank w") {
    auto ckpt = WritePath(true, 2, true, 1);
    CheckDecodeMatchesRecompute(ckpt->dir(), 37);
  }
  SECTION("no forget gate, 4 kv heads, full-rank w") {
    auto ckpt = WritePath(false, 4, false, 2);
    CheckDecodeMatchesRecompute(ckpt->dir(), 21);
  }
}

TEST_CASE("Gated DeltaNet decode matches full recompute over 200 steps", "[golden][slow]") {
  auto ckpt = WriteGdn(3);
  CheckDecodeMatchesRecompute(ckpt->dir(), 70);
  // The transformers fixture's logits reach |8| (the fla ones stay near 1): same relative bar.
  CheckDecodeMatchesRecompute(TestDataDir() + "/golden/qwen3_5_gdn/model", 19, 3e-4f);
}

// Two requests in one batch (different slots and blocks; one prefilling, then both decoding and
// one extending) give the logits each gets alone.
void CheckBatchedMatchesAlone(const std::string& model_dir) {
  constexpr int kBlock = 16;
  auto batched = MakeCpuRunner(model_dir, 16, kBlock, 2);
  auto alone = MakeCpuRunner(model_dir, 16, kBlock, 2);
  std::mt19937 rng(5);
  std::uniform_int_distribution<TokenId> token(0, batched->spec().vocab_size - 1);
  std::vector<TokenId> a(30), b(45);
  for (TokenId& id : a) id = token(rng);
  for (TokenId& id : b) id = token(rng);
  // Step 1: A prefills 20, B prefills 13. Step 2: A decodes 1, B extends by 32.
  std::vector<TokenId> step1(a.begin(), a.begin() + 20);
  step1.insert(step1.end(), b.begin(), b.begin() + 13);
  Forward(*batched, step1, {MakeChunk(0, 20, 0, 0, 0, kBlock), MakeChunk(20, 13, 0, 1, 8, kBlock)});
  std::vector<TokenId> step2 = {a[20]};
  step2.insert(step2.end(), b.begin() + 13, b.end());
  const std::vector<float> both = Forward(
      *batched, step2, {MakeChunk(0, 1, 20, 0, 0, kBlock), MakeChunk(1, 32, 13, 1, 8, kBlock)});
  const std::vector<float> just_a =
      Forward(*alone, {a.begin(), a.begin() + 21}, {MakeChunk(0, 21, 0, 0, 0, kBlock)});
  const std::vector<float> just_b = Forward(*alone, b, {MakeChunk(0, 45, 0, 1, 8, kBlock)});
  const size_t vocab = just_a.size();
  REQUIRE(both.size() == 2 * vocab);
  INFO(model_dir);
  CHECK(MaxAbsDiff(both.data(), just_a.data(), vocab) <= 1e-4f);
  CHECK(MaxAbsDiff(both.data() + vocab, just_b.data(), vocab) <= 1e-4f);
}

TEST_CASE("GDN and PaTH batches match requests run alone", "[golden]") {
  auto path = WritePath(true, 2, true, 4);
  CheckBatchedMatchesAlone(path->dir());
  auto gdn = WriteGdn(5);
  CheckBatchedMatchesAlone(gdn->dir());
}

TEST_CASE("fla configs take fla's defaults for absent keys", "[golden]") {
  auto path = ParseModelConfig(nlohmann::json::parse(
      R"({"architectures": ["PaTHAttentionForCausalLM"], "hidden_size": 96, "num_heads": 4,
          "num_hidden_layers": 2, "vocab_size": 100})"));
  INFO(path.status().ToString());
  REQUIRE(path.ok());
  const PathSpec& p = std::get<PathSpec>(path->layers[0].mixer->params);
  CHECK(p.head_dim == 24);
  CHECK(p.num_kv_heads == 4);
  CHECK_FALSE(p.forget_gate);
  CHECK(p.w_shortconv);
  CHECK(p.low_rank_w);
  // 256 * ceil(int(96 * 4 * 2 / 3) / 256) = 256.
  CHECK(path->layers[0].mlp->intermediate_size == 256);
  CHECK(path->layers[1].mixer->weight_prefix == "model.layers.1.attn.");
  CHECK(path->embedding == "model.embeddings.weight");
  CHECK(path->NumLayersWithKvCache() == 2);
  CHECK(path->NumLayersWithState() == 2);  // the w short-conv windows

  auto gdn = ParseModelConfig(nlohmann::json::parse(
      R"({"architectures": ["GatedDeltaNetForCausalLM"], "hidden_size": 512, "num_heads": 2,
          "num_hidden_layers": 1, "vocab_size": 100, "allow_neg_eigval": true})"));
  INFO(gdn.status().ToString());
  REQUIRE(gdn.ok());
  const GatedDeltaNetSpec& g = std::get<GatedDeltaNetSpec>(gdn->layers[0].mixer->params);
  CHECK(g.head_k_dim == 256);
  CHECK(g.head_v_dim == 512);
  CHECK(g.num_value_heads == 2);
  CHECK(g.beta_scale == 2.0f);
  CHECK(gdn->layers[0].mlp->intermediate_size == 1536);  // int(512 * 8 / 3) = 1365 -> 1536
  CHECK(gdn->NumLayersWithState() == 1);

  auto bad = ParseModelConfig(nlohmann::json::parse(
      R"({"architectures": ["PaTHAttentionForCausalLM"], "hidden_size": 64, "num_heads": 4,
          "num_kv_heads": 3})"));
  CHECK_FALSE(bad.ok());
}

}  // namespace
}  // namespace junction::testing
