// The stages of a Hugging Face tokenizer.json pipeline, each built from its JSON object:
// normalizer -> pre-tokenizer -> model (bpe.h) -> post-processor; decoding runs the decoder.
// Factories return InvalidArgument naming the unsupported "type" (and its JSON path) rather
// than guessing. Every stage is immutable after construction and safe to share across threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "engine/common/ids.h"
#include "nlohmann/json.hpp"

namespace junction {

// The largest token id a tokenizer.json may name: ids index tables, so this bounds what a file
// can make us allocate (and keeps every id inside TokenId).
inline constexpr int64_t kMaxTokenId = int64_t{1} << 30;

// `value` as an integer in [0, max], or nullopt for anything else (a float, a negative or larger
// number, a string): token ids and counts read from tokenizer.json. Casting a float such as 2e57
// to int instead is undefined behaviour.
inline std::optional<int64_t> JsonIndex(const nlohmann::json& value, int64_t max) {
  if (!value.is_number_integer()) return std::nullopt;
  const int64_t v = value.get<int64_t>();
  if (v < 0 || v > max) return std::nullopt;
  return v;
}

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // `text` is well-formed UTF-8; the result is too.
  virtual std::string Normalize(std::string_view text) const = 0;

  // `config` is tokenizer.json's "normalizer" (not null).
  static absl::StatusOr<std::unique_ptr<Normalizer>> Create(const nlohmann::json& config);
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Splits every word of `words` further (in place). `first_section` is true for the text
  // before the first added token (Metaspace's prepend_scheme "first" needs it).
  virtual void PreTokenize(std::vector<std::string>& words, bool first_section) const = 0;

  static absl::StatusOr<std::unique_ptr<PreTokenizer>> Create(const nlohmann::json& config);
};

// Turns token strings back into text pieces ("decode_chain" in Hugging Face terms).
class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const = 0;

  // `added_tokens`: contents of tokenizer.json's added tokens; ByteLevel passes them through
  // unmapped. The set must outlive the decoder.
  static absl::StatusOr<std::unique_ptr<Decoder>> Create(
      const nlohmann::json& config, const absl::flat_hash_set<std::string>* added_tokens);
};

// Adds special tokens around an encoded sequence (TemplateProcessing's "single" template);
// ByteLevel is a pass-through. Only called when add_special_tokens is true.
class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  virtual std::vector<TokenId> Process(std::vector<TokenId> ids) const = 0;

  static absl::StatusOr<std::unique_ptr<PostProcessor>> Create(const nlohmann::json& config);
};

// The GPT-2 byte <-> printable code point map used by ByteLevel pre-tokenizer and decoder.
const std::string& ByteToUnicodeUtf8(uint8_t byte);  // UTF-8 of the printable stand-in
int UnicodeToByte(char32_t cp);                      // -1 when cp stands for no byte

// Applies the Hugging Face "clean_up_tokenization" rules (" ." -> "." etc.).
std::string CleanUpTokenization(std::string text);

// Replaces every occurrence of `from` (non-empty) with `to`.
std::string ReplaceAll(std::string_view text, std::string_view from, std::string_view to);

}  // namespace junction
