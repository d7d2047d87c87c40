#include "engine/tokenizer/bpe.h"

#include <optional>
#include <queue>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/common/status_macros.h"
#include "engine/tokenizer/components.h"
#include "engine/tokenizer/utf8.h"

namespace junction {

absl::StatusOr<std::unique_ptr<BpeModel>> BpeModel::Create(const nlohmann::json& config) {
  if (!config.is_object()) return absl::InvalidArgumentError("model: expected an object");
  const std::string type = config.value("type", std::string("BPE"));
  if (type != "BPE") {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported model type \"", type, "\" (supported: BPE)"));
  }
  if (config.contains("dropout") && !config["dropout"].is_null()) {
    return absl::InvalidArgumentError("model BPE: dropout is not supported");
  }
  for (const char* affix : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (config.contains(affix) && config[affix].is_string() &&
        !config[affix].get<std::string>().empty()) {
      return absl::InvalidArgumentError(absl::StrCat("model BPE: ", affix, " is not supported"));
    }
  }
  if (!config.contains("vocab") || !config["vocab"].is_object()) {
    return absl::InvalidArgumentError("model BPE: missing object \"vocab\"");
  }
  std::unique_ptr<BpeModel> model(new BpeModel());
  const auto& vocab = config["vocab"];
  model->token_to_id_.reserve(vocab.size());
  for (const auto& [token, id_json] : vocab.items()) {
    const std::optional<int64_t> id_value = JsonIndex(id_json, kMaxTokenId);
    if (!id_value) {
      return absl::InvalidArgumentError(
          absl::StrCat("model BPE: vocab entry \"", token, "\" has no valid id"));
    }
    const TokenId id = static_cast<TokenId>(*id_value);
    model->token_to_id_[token] = id;
    if (static_cast<size_t>(id) >= model->id_to_token_.size()) {
      model->id_to_token_.resize(id + 1);
    }
    model->id_to_token_[id] = token;
  }
  if (config.contains("unk_token") && config["unk_token"].is_string()) {
    model->unk_id_ = model->TokenToId(config["unk_token"].get<std::string>());
  }
  model->byte_fallback_ = config.value("byte_fallback", false);
  model->fuse_unk_ = config.value("fuse_unk", false);
  model->ignore_merges_ = config.value("ignore_merges", false);
  model->has_all_byte_ids_ = true;
  for (int b = 0; b < 256; ++b) {
    const auto id = model->TokenToId(absl::StrFormat("<0x%02X>", b));
    model->byte_ids_[b] = id.value_or(-1);
    if (!id) model->has_all_byte_ids_ = false;
  }
  RETURN_IF_ERROR(model->LoadMerges(config.value("merges", nlohmann::json::array())));
  return model;
}

absl::Status BpeModel::LoadMerges(const nlohmann::json& merges) {
  if (!merges.is_array()) return absl::InvalidArgumentError("model BPE: \"merges\" must be a list");
  merges_.reserve(merges.size());
  int rank = 0;
  for (const auto& merge : merges) {
    std::string left, right;
    if (merge.is_string()) {
      // Old format "a b": tokens never contain a space in this format, so split at the first.
      const std::string text = merge.get<std::string>();
      const size_t space = text.find(' ');
      if (space == std::string::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("model BPE: merge \"", text, "\" is not two space-separated tokens"));
      }
      left = text.substr(0, space);
      right = text.substr(space + 1);
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
               merge[1].is_string()) {
      left = merge[0].get<std::string>();
      right = merge[1].get<std::string>();
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("model BPE: merge #", rank, " is neither \"a b\" nor [a, b]"));
    }
    const auto a = TokenToId(left), b = TokenToId(right), ab = TokenToId(left + right);
    // A merge whose parts or result are missing from the vocab can never fire.
    if (a && b && ab) merges_.try_emplace(PairKey(*a, *b), MergeResult{rank, *ab});
    ++rank;
  }
  return absl::OkStatus();
}

std::optional<TokenId> BpeModel::TokenToId(std::string_view token) const {
  const auto it = token_to_id_.find(absl::string_view(token.data(), token.size()));
  if (it == token_to_id_.end()) return std::nullopt;
  return it->second;
}

const std::string& BpeModel::IdToToken(TokenId id) const {
  static const std::string* const kEmpty = new std::string();
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size()) return *kEmpty;
  return id_to_token_[id];
}

void BpeModel::MergeSymbols(std::vector<Symbol>& symbols) const {
  struct Candidate {
    int rank, pos;
    TokenId new_id;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  const auto consider = [&](int pos) {
    const int next = symbols[pos].next;
    if (next < 0 || symbols[pos].id < 0 || symbols[next].id < 0) return;
    const auto it = merges_.find(PairKey(symbols[pos].id, symbols[next].id));
    if (it != merges_.end()) queue.push({it->second.rank, pos, it->second.new_id});
  };
  for (int i = 0; i + 1 < static_cast<int>(symbols.size()); ++i) consider(i);
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.pos];
    if (left.byte_len == 0 || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    const auto it = merges_.find(PairKey(left.id, right.id));
    // Stale entry: one side was merged into something else since it was queued.
    if (it == merges_.end() || it->second.new_id != top.new_id || left.id < 0) continue;
    left.id = top.new_id;
    left.byte_len += right.byte_len;
    right.byte_len = 0;
    left.next = right.next;
    if (left.next >= 0) symbols[left.next].prev = top.pos;
    if (left.prev >= 0) consider(left.prev);
    consider(top.pos);
  }
}

void BpeModel::EmitUnknown(std::string_view piece, std::vector<TokenId>& ids) const {
  if (byte_fallback_ && has_all_byte_ids_) {
    for (unsigned char b : piece) ids.push_back(byte_ids_[b]);
    return;
  }
  // Without an unknown token the piece cannot be represented; it is dropped.
  if (unk_id_) ids.push_back(*unk_id_);
}

void BpeModel::EncodeWord(std::string_view word, std::vector<TokenId>& ids) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    if (const auto id = TokenToId(word)) {
      ids.push_back(*id);
      return;
    }
  }
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  size_t pos = 0;
  while (pos < word.size()) {
    const size_t begin = pos;
    utf8::Next(word, &pos);
    const auto id = TokenToId(word.substr(begin, pos - begin));
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({id.value_or(-1), index - 1, index + 1, static_cast<uint32_t>(begin),
                       static_cast<uint32_t>(pos - begin)});
  }
  symbols.back().next = -1;
  if (symbols.size() > 1) MergeSymbols(symbols);
  for (int i = 0; i >= 0; i = symbols[i].next) {
    const Symbol& s = symbols[i];
    if (s.id >= 0) {
      ids.push_back(s.id);
    } else {
      EmitUnknown(word.substr(s.byte_begin, s.byte_len), ids);
    }
  }
}

void BpeModel::FuseUnknown(std::vector<TokenId>& ids) const {
  if (!fuse_unk_ || !unk_id_) return;
  size_t out = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == *unk_id_ && out > 0 && ids[out - 1] == *unk_id_) continue;
    ids[out++] = ids[i];
  }
  ids.resize(out);
}

}  // namespace junction
