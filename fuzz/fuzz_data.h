// Shared by the libFuzzer targets: where the test fixtures live and the tokenizers they load once.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "engine/tokenizer/tokenizer.h"

// The fuzz build defines JUNCTION_FUZZ_TEST_DATA_DIR; the regression tests define
// JUNCTION_TEST_DATA_DIR (both: the repository's tests/ folder).
#ifndef JUNCTION_FUZZ_TEST_DATA_DIR
#define JUNCTION_FUZZ_TEST_DATA_DIR JUNCTION_TEST_DATA_DIR
#endif

namespace junction::fuzz {

// The repository's tests/ folder (compiled in; JUNCTION_TEST_DATA_DIR in the environment wins).
inline std::string TestDataDir() {
  const char* env = std::getenv("JUNCTION_TEST_DATA_DIR");
  return env != nullptr ? env : JUNCTION_FUZZ_TEST_DATA_DIR;
}

// Loads a tokenizer directory under tests/ or aborts: a fuzz target without its fixture would
// report nothing useful. Returns nullptr only for an optional fixture (`required` false).
inline std::unique_ptr<Tokenizer> LoadFixtureTokenizer(const std::string& relative_dir,
                                                       bool required) {
  auto tokenizer = Tokenizer::Load(TestDataDir() + "/" + relative_dir);
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "fuzz: cannot load %s: %s\n", relative_dir.c_str(),
                 std::string(tokenizer.status().message()).c_str());
    if (required) std::abort();
    return nullptr;
  }
  return std::move(*tokenizer);
}

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

}  // namespace junction::fuzz
