// tokenizer.json -> Tokenizer::FromJson (no tokenizer_config.json). A tokenizer that loads must
// then encode and decode a fixed text with every id in range.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.h"
#include "nlohmann/json.hpp"

namespace junction::fuzz {

// Returns false when an accepted input breaks a property stated above.
inline bool TokenizerJsonTarget(const uint8_t* data, size_t size) {
  nlohmann::json tokenizer_json = nlohmann::json::parse(data, data + size, nullptr,
                                                        /*allow_exceptions=*/false);
  if (tokenizer_json.is_discarded()) return true;
  auto tokenizer = junction::Tokenizer::FromJson(tokenizer_json, nlohmann::json());
  if (!tokenizer.ok()) return true;
  const std::vector<junction::TokenId> ids =
      (*tokenizer)->Encode("Hello, w\xC3\xB6rld! <s> 123 \xF0\x9F\x98\x80\n\tend", true);
  for (junction::TokenId id : ids) {
    if (id < 0 || id >= (*tokenizer)->vocab_size()) return false;
  }
  const std::string text = (*tokenizer)->Decode(ids, false);
  if (text.size() > (1u << 20)) return false;  // ~30 ids cannot decode to a megabyte
  return true;
}

}  // namespace junction::fuzz
