// Junction's tokenizer: loads a Hugging Face tokenizer.json (+ tokenizer_config.json) and
// encodes / decodes exactly as the Hugging Face tokenizers do (verified against transformers.js
// on Qwen3, Llama 3, Llama 2, Gemma 3 and gpt-oss; see docs/tokenizer.md for what is supported).
//
// Pipeline of Encode: invalid UTF-8 -> U+FFFD; split out added tokens (longest match first);
// for each remaining section: normalizer -> pre-tokenizer -> BPE; then the post-processor
// (BOS/EOS) when add_special_tokens. Decode: ids -> token strings -> decoder chain ->
// optional clean-up of tokenization spaces.
//
// A Tokenizer is immutable after Load: every const method is thread-safe.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "engine/common/ids.h"
#include "engine/tokenizer/chat_template/chat_template.h"
#include "nlohmann/json.hpp"

namespace junction {

class BpeModel;
class Decoder;
class Normalizer;
class PostProcessor;
class PreTokenizer;

class Tokenizer {
 public:
  // Loads DIR/tokenizer.json and (optional) DIR/tokenizer_config.json; the chat template comes
  // from the config's "chat_template" or else DIR/chat_template.jinja. NotFound when
  // tokenizer.json is missing; InvalidArgument (naming the file and the offending part) when a
  // file is malformed (e.g. its post-processor adds an id that has no token), uses an
  // unsupported component, or its chat_template does not parse.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> Load(const std::string& dir);

  // Same, from already-parsed JSON (`config` may be null: no tokenizer_config.json).
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromJson(const nlohmann::json& tokenizer,
                                                             const nlohmann::json& config);

  ~Tokenizer();

  // Any bytes are accepted: ill-formed UTF-8 is replaced by U+FFFD first. Added and special
  // tokens written literally in `text` become their ids (unless split_special_tokens is set in
  // tokenizer_config.json, which leaves special ones to BPE). add_special_tokens runs the
  // post-processor (e.g. prepends BOS).
  std::vector<TokenId> Encode(std::string_view text, bool add_special_tokens) const;

  // Ids without a token (out of range) are skipped. Applies tokenizer_config.json's
  // clean_up_tokenization_spaces (default true, as in transformers).
  std::string Decode(std::span<const TokenId> ids, bool skip_special_tokens) const;
  // Same, choosing the clean-up explicitly (streaming turns it off: it is not prefix-stable).
  std::string Decode(std::span<const TokenId> ids, bool skip_special_tokens,
                     bool clean_up_tokenization_spaces) const;

  // One more than the largest id (model vocab and added tokens).
  int vocab_size() const { return vocab_size_; }
  std::optional<TokenId> bos_token_id() const { return TokenToId(bos_token_); }
  std::optional<TokenId> eos_token_id() const { return TokenToId(eos_token_); }
  // "" when tokenizer_config.json names none.
  std::string bos_token() const { return bos_token_; }
  std::string eos_token() const { return eos_token_; }
  std::optional<TokenId> TokenToId(std::string_view token) const;
  // The token string of `id` ("" when there is none).
  std::string IdToToken(TokenId id) const;
  bool IsSpecial(TokenId id) const { return special_ids_.contains(id); }

  // nullptr when tokenizer_config.json has no chat_template.
  const ChatTemplate* chat_template() const { return chat_template_.get(); }

 private:
  struct AddedToken {
    std::string content;
    TokenId id;
    bool special, lstrip, rstrip;
  };
  // A section of the input: raw text, or an added token.
  struct Section {
    std::string_view text;
    const AddedToken* added = nullptr;
  };

  Tokenizer();
  absl::Status LoadAddedTokens(const nlohmann::json& added_tokens);
  absl::Status LoadConfig(const nlohmann::json& config);
  // InvalidArgument when the post-processor would add an id that has no token.
  absl::Status CheckPostProcessorIds() const;
  std::vector<Section> SplitAddedTokens(std::string_view text) const;
  // Longest added token matching at text[pos], or nullptr.
  const AddedToken* MatchAddedToken(std::string_view text, size_t pos) const;
  // Ids of words already encoded during one Encode call (text repeats words a lot); local to
  // the call, so Encode stays lock-free.
  using WordCache = absl::flat_hash_map<std::string, std::vector<TokenId>>;
  void EncodeSection(std::string_view text, bool first_section, WordCache& cache,
                     std::vector<TokenId>& ids) const;

  std::unique_ptr<BpeModel> model_;
  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<PostProcessor> post_processor_;
  std::unique_ptr<Decoder> decoder_;
  std::unique_ptr<ChatTemplate> chat_template_;

  std::vector<AddedToken> added_tokens_;
  absl::flat_hash_map<TokenId, size_t> added_by_id_;
  absl::flat_hash_map<std::string, size_t> added_by_content_;
  absl::flat_hash_set<std::string> added_contents_;  // for the ByteLevel decoder
  // Byte trie over added-token contents: edge (node << 8 | byte) -> child; node -> token index.
  absl::flat_hash_map<uint64_t, int32_t> trie_edges_;
  absl::flat_hash_map<int32_t, size_t> trie_terminals_;
  int32_t trie_num_nodes_ = 1;
  std::array<bool, 256> added_first_bytes_{};  // quick rejection before walking the trie

  absl::flat_hash_set<TokenId> special_ids_;
  std::string bos_token_, eos_token_;
  bool clean_up_tokenization_spaces_ = true;
  bool split_special_tokens_ = false;
  int vocab_size_ = 0;
};

}  // namespace junction
