// Device selection (--device), --random-weights and the synthetic tokenizer of junction-server.
// Runs without a GPU (CI); where one is present the GPU-less expectations are skipped.
#include "backends/loader/served_model.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "server/server_options.h"

namespace junction {
namespace {

bool GpuPresent() {
  auto choice = ChooseDevice("auto");
  return choice.ok() && choice->device.device_class == DeviceClass::kCuda;
}

absl::StatusOr<server::ServerOptions> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "junction-server");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return server::ParseServerOptions(static_cast<int>(argv.size()), argv.data());
}

TEST_CASE("served model: --device cpu always picks the CPU", "[server]") {
  auto choice = ChooseDevice("cpu");
  REQUIRE(choice.ok());
  CHECK(choice->device.device_class == DeviceClass::kCpu);
  CHECK(choice->reason == "--device cpu");
}

TEST_CASE("an unknown --device value is an error naming the choices", "[server]") {
  auto choice = ChooseDevice("tpu");
  REQUIRE_FALSE(choice.ok());
  CHECK(choice.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(choice.status().message()).find("auto, cpu, cuda") != std::string::npos);
}

TEST_CASE("without a GPU, --device cuda is a clear error and auto falls back with a reason",
          "[server]") {
  if (GpuPresent()) {
    WARN("a CUDA device is present: the GPU-less expectations are skipped");
    auto cuda = ChooseDevice("cuda");
    REQUIRE(cuda.ok());
    CHECK(cuda->device.device_class == DeviceClass::kCuda);
    return;
  }
  auto cuda = ChooseDevice("cuda");
  REQUIRE_FALSE(cuda.ok());
  CHECK(cuda.status().code() == absl::StatusCode::kFailedPrecondition);
  const std::string message(cuda.status().message());
  CHECK(message.rfind("--device cuda: ", 0) == 0);
  CHECK(message.size() > std::string("--device cuda: ").size());
  auto automatic = ChooseDevice("auto");
  REQUIRE(automatic.ok());
  CHECK(automatic->device.device_class == DeviceClass::kCpu);
  CHECK(automatic->reason.find("using the CPU backends") != std::string::npos);
}

TEST_CASE("served model: --device cuda without a GPU fails the model load before reading weights",
          "[server]") {
  if (GpuPresent()) return;
  ServedModelOptions options;
  options.device = "cuda";
  auto model =
      LoadServedModel(JUNCTION_TEST_DATA_DIR "/golden/llama/model", EngineConfig{}, options);
  REQUIRE_FALSE(model.ok());
  CHECK(model.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(std::string(model.status().message()).find("--device cuda") != std::string::npos);
}

TEST_CASE("served model: --random-weights without a GPU says it needs CUDA", "[server]") {
  if (GpuPresent()) return;
  ServedModelOptions options;
  options.random_weights_config = JUNCTION_TEST_DATA_DIR "/../bench/configs/llama3_8b_shape.json";
  auto model = LoadServedModel("", EngineConfig{}, options);
  REQUIRE_FALSE(model.ok());
  CHECK(model.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(std::string(model.status().message()).find("--random-weights") != std::string::npos);
}

TEST_CASE("the CPU path still serves the fixture model with --device auto", "[server]") {
  if (GpuPresent()) return;
  ServedModelOptions options;
  options.tokenizer_dir = JUNCTION_TEST_DATA_DIR "/data/e2e_model_tokenizer";
  auto model = LoadServedModel(JUNCTION_TEST_DATA_DIR "/golden/llama/model", EngineConfig{},
                               options);
  INFO(model.status().ToString());
  REQUIRE(model.ok());
  CHECK(model->device.device_class == DeviceClass::kCpu);
  CHECK_FALSE(model->device_reason.empty());
}

TEST_CASE("the synthetic tokenizer covers the whole vocabulary", "[server]") {
  auto tokenizer = MakeSyntheticTokenizer(128256);
  INFO(tokenizer.status().ToString());
  REQUIRE(tokenizer.ok());
  const Tokenizer& t = **tokenizer;
  CHECK(t.vocab_size() == 128256);
  const std::vector<TokenId> hi = {104, 105};
  CHECK(t.Encode("hi", false) == hi);
  CHECK(t.Decode(hi, false) == "hi");
  const std::vector<TokenId> ids = {300, 128255};
  CHECK(t.Decode(ids, false) == " t300 t128255");
  const std::vector<TokenId> space = {32};
  CHECK(t.Decode(space, false) == " ");
  CHECK_FALSE(MakeSyntheticTokenizer(100).ok());
}

TEST_CASE("server flags: --device, --random-weights, --tokenizer", "[server]") {
  auto random = Parse({"--random-weights", "cfg.json", "--device", "cuda", "--tokenizer", "tok"});
  INFO(random.status().ToString());
  REQUIRE(random.ok());
  CHECK(random->random_weights_config == "cfg.json");
  CHECK(random->device == "cuda");
  CHECK(random->tokenizer_dir == "tok");
  CHECK(random->served_model_name == "cfg.json");
  auto plain = Parse({"--model", "dir"});
  REQUIRE(plain.ok());
  CHECK(plain->device == "auto");
  auto bad_device = Parse({"--model", "dir", "--device", "gpu"});
  REQUIRE_FALSE(bad_device.ok());
  CHECK(std::string(bad_device.status().message()).find("--device") != std::string::npos);
  auto both = Parse({"--model", "dir", "--random-weights", "cfg.json"});
  CHECK_FALSE(both.ok());
  auto neither = Parse({});
  REQUIRE_FALSE(neither.ok());
  CHECK(std::string(neither.status().message()).find("--random-weights") != std::string::npos);
}

}  // namespace
}  // namespace junction
