// Safetensors validation: every malformed header is an error naming the file and tensor.
#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "engine/model/safetensors.h"

namespace junction {
namespace {

// Builds a file image: 8-byte header length, the JSON header, then `data_bytes` zero bytes.
std::vector<uint8_t> FileImage(const std::string& header, size_t data_bytes) {
  std::vector<uint8_t> bytes(8 + header.size() + data_bytes, 0);
  const uint64_t n = header.size();
  std::memcpy(bytes.data(), &n, 8);
  std::memcpy(bytes.data() + 8, header.data(), header.size());
  return bytes;
}

std::string ErrorOf(const std::string& header, size_t data_bytes) {
  std::vector<uint8_t> image = FileImage(header, data_bytes);
  auto parsed = SafetensorsFile::ParseHeader("f.safetensors", image.data(), image.size());
  return parsed.ok() ? "" : std::string(parsed.status().message());
}

}  // namespace

TEST_CASE("a valid header parses with dtype, shape and data pointers", "[safetensors]") {
  const std::string header =
      R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
      R"("b":{"dtype":"BF16","shape":[4],"data_offsets":[24,32]},"__metadata__":{"x":"y"}})";
  std::vector<uint8_t> image = FileImage(header, 32);
  auto parsed = SafetensorsFile::ParseHeader("f", image.data(), image.size());
  REQUIRE(parsed.ok());
  REQUIRE(parsed->size() == 2);
  CHECK(parsed->at("a").shape == std::vector<int64_t>{2, 3});
  CHECK(parsed->at("b").dtype == DType::kBF16);
  CHECK(parsed->at("b").data == image.data() + 8 + header.size() + 24);
}

TEST_CASE("malformed safetensors headers are rejected with a reason", "[safetensors]") {
  const std::string ok_a = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  CHECK_THAT(ErrorOf("{" + ok_a + R"(,"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12),
             Catch::Contains("overlap") && Catch::Contains("'b'"));
  CHECK_THAT(ErrorOf("{" + ok_a + R"(,"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})", 20),
             Catch::Contains("gap"));
  CHECK_THAT(ErrorOf("{" + ok_a + "}", 4), Catch::Contains("past the end"));
  CHECK_THAT(ErrorOf(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
             Catch::Contains("does not match"));
  CHECK_THAT(ErrorOf(R"({"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", 8),
             Catch::Contains("unsupported dtype 'I64'"));
  CHECK_THAT(ErrorOf(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})", 8),
             Catch::Contains("overflow"));
  CHECK_THAT(ErrorOf("{" + ok_a + "}", 16), Catch::Contains("file holds"));
  CHECK_THAT(ErrorOf("not json", 0), Catch::Contains("not a JSON object"));
  CHECK_THAT(ErrorOf(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}})", 8),
             Catch::Contains("non-negative"));
}

TEST_CASE("truncated and oversized headers are rejected", "[safetensors]") {
  std::vector<uint8_t> tiny = {1, 2, 3};
  auto parsed = SafetensorsFile::ParseHeader("t", tiny.data(), tiny.size());
  REQUIRE_FALSE(parsed.ok());
  CHECK_THAT(std::string(parsed.status().message()), Catch::Contains("shorter than"));

  std::vector<uint8_t> image = FileImage(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8);
  parsed = SafetensorsFile::ParseHeader("t", image.data(), 20);  // cut inside the header
  REQUIRE_FALSE(parsed.ok());
  CHECK_THAT(std::string(parsed.status().message()), Catch::Contains("truncated"));

  const uint64_t huge = 100'000'001;
  std::memcpy(image.data(), &huge, 8);
  parsed = SafetensorsFile::ParseHeader("t", image.data(), image.size());
  REQUIRE_FALSE(parsed.ok());
  CHECK_THAT(std::string(parsed.status().message()), Catch::Contains("100,000,000"));
}

TEST_CASE("written safetensors files read back", "[safetensors]") {
  const std::string path = std::string(JUNCTION_BINARY_DIR) + "/roundtrip.safetensors";
  std::vector<float> values = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, 8.0f};
  REQUIRE(WriteSafetensorsF32(path, {{"x", {2, 3}, values.data()}}).ok());
  auto file = SafetensorsFile::Open(path);
  REQUIRE(file.ok());
  const TensorView& x = (*file)->tensors().at("x");
  CHECK(x.shape == std::vector<int64_t>{2, 3});
  CHECK(std::memcmp(x.data, values.data(), 24) == 0);
}

}  // namespace junction
