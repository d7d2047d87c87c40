// The BPE model of tokenizer.json ("model": {"type": "BPE"}): byte-level (GPT-2 style) and
// SentencePiece style (byte_fallback, unk fusing). Merges are applied lowest rank first, ties
// broken leftmost first, with a heap over a linked list of symbols (O(n log n) per word).
// Immutable after Create; Encode is thread-safe.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "engine/common/ids.h"
#include "nlohmann/json.hpp"

namespace junction {

class BpeModel {
 public:
  // `config` is tokenizer.json's "model". InvalidArgument when it is not a BPE model, the
  // vocab/merges are malformed, or it uses an unsupported option (dropout, subword affixes).
  static absl::StatusOr<std::unique_ptr<BpeModel>> Create(const nlohmann::json& config);

  // Appends the ids of one pre-tokenized word (well-formed UTF-8) to `ids`.
  void EncodeWord(std::string_view word, std::vector<TokenId>& ids) const;

  // Collapses runs of the unknown token when the model asks for it (fuse_unk).
  void FuseUnknown(std::vector<TokenId>& ids) const;

  std::optional<TokenId> TokenToId(std::string_view token) const;
  // The vocab entry of `id`; empty when the id has none.
  const std::string& IdToToken(TokenId id) const;
  // One more than the largest id in the vocab.
  int vocab_size() const { return static_cast<int>(id_to_token_.size()); }

 private:
  struct MergeResult {
    int rank;
    TokenId new_id;
  };
  struct Symbol {
    TokenId id;  // -1: a character the vocab lacks
    int prev, next;
    uint32_t byte_begin, byte_len;  // 0 bytes: merged away
  };

  BpeModel() = default;
  absl::Status LoadMerges(const nlohmann::json& merges);
  void MergeSymbols(std::vector<Symbol>& symbols) const;
  void EmitUnknown(std::string_view piece, std::vector<TokenId>& ids) const;
  static uint64_t PairKey(TokenId a, TokenId b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }

  absl::flat_hash_map<std::string, TokenId> token_to_id_;
  std::vector<std::string> id_to_token_;
  absl::flat_hash_map<uint64_t, MergeResult> merges_;
  std::optional<TokenId> unk_id_;
  bool byte_fallback_ = false;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
  std::array<TokenId, 256> byte_ids_{};  // <0xXX> ids; -1 where missing
  bool has_all_byte_ids_ = false;
};

}  // namespace junction
