// Element types of stored tensors and the float32 conversions the CPU path needs.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace junction {

enum class DType { kF32, kBF16, kF16 };

constexpr int DTypeSize(DType t) { return t == DType::kF32 ? 4 : 2; }
const char* DTypeName(DType t);

inline float BF16ToFloat(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Round to nearest even, NaN stays NaN.
inline uint16_t FloatToBF16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

float F16ToFloat(uint16_t h);
uint16_t FloatToF16(float f);

// Converts `count` elements of `src` (any alignment) to float32.
void ConvertToFloat(DType type, const void* src, int64_t count, float* dst);

}  // namespace junction
