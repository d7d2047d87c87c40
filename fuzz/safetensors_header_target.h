// SafetensorsFile::ParseHeader on arbitrary file prefixes: the 8-byte length, the JSON header
// and the tensor data are all attacker-controlled. Every accepted tensor must lie inside the
// buffer (the parser promises offsets inside the file), which this target checks by reading it.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <string>

#include "engine/model/safetensors.h"

namespace junction::fuzz {

// Returns false when an accepted input breaks a property stated above.
inline bool SafetensorsHeaderTarget(const uint8_t* data, size_t size) {
  auto tensors = junction::SafetensorsFile::ParseHeader("fuzz.safetensors", data, size);
  if (!tensors.ok()) return true;
  const uint8_t* end = data + size;
  for (const auto& [name, view] : *tensors) {
    const int64_t count = view.num_elements();
    if (count < 0) return false;
    const uint64_t bytes = static_cast<uint64_t>(count) * junction::DTypeSize(view.dtype);
    const uint8_t* begin = static_cast<const uint8_t*>(view.data);
    if (bytes == 0) continue;
    if (begin < data || begin > end || bytes > static_cast<uint64_t>(end - begin)) return false;
    // Touch the first and last byte: ASan reports any read outside the input buffer.
    volatile uint8_t sink = begin[0] ^ begin[bytes - 1];
    (void)sink;
  }
  return true;
}

}  // namespace junction::fuzz
