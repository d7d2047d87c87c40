#include "engine/tokenizer/tokenizer.h"

#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/common/status_macros.h"
#include "engine/tokenizer/bpe.h"
#include "engine/tokenizer/chat_template/chat_template.h"
#include "engine/tokenizer/components.h"
#include "engine/tokenizer/utf8.h"

namespace junction {
namespace {

absl::StatusOr<nlohmann::json> ReadJsonFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  nlohmann::json json = nlohmann::json::parse(buffer.str(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not valid JSON"));
  }
  return json;
}

// Special tokens in tokenizer_config.json are a string, {"content": ...}, or null.
std::string TokenContent(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content") && value["content"].is_string()) {
    return value["content"].get<std::string>();
  }
  return "";
}

// JavaScript's String.prototype.trim whitespace (what transformers.js strips for lstrip/rstrip).
bool IsJsWhitespace(char32_t cp) {
  return cp == 0x09 || cp == 0x0A || cp == 0x0B || cp == 0x0C || cp == 0x0D || cp == 0x20 ||
         cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

std::string_view TrimJsWhitespace(std::string_view text, bool left, bool right) {
  if (left) {
    size_t pos = 0;
    while (pos < text.size()) {
      size_t next = pos;
      if (!IsJsWhitespace(utf8::Next(text, &next))) break;
      pos = next;
    }
    text.remove_prefix(pos);
  }
  if (right) {
    while (!text.empty()) {
      size_t start = text.size() - 1;
      while (start > 0 && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) --start;
      size_t pos = start;
      if (!IsJsWhitespace(utf8::Next(text, &pos))) break;
      text.remove_suffix(text.size() - start);
    }
  }
  return text;
}

}  // namespace

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Load(const std::string& dir) {
  ASSIGN_OR_RETURN(nlohmann::json tokenizer, ReadJsonFile(dir + "/tokenizer.json"));
  nlohmann::json config;
  const std::string config_path = dir + "/tokenizer_config.json";
  if (std::ifstream(config_path).good()) {
    ASSIGN_OR_RETURN(config, ReadJsonFile(config_path));
  }
  // Newer snapshots keep the template in its own file (transformers reads it the same way).
  std::ifstream template_file(dir + "/chat_template.jinja", std::ios::binary);
  if (template_file && !(config.is_object() && config.contains("chat_template"))) {
    std::stringstream source;
    source << template_file.rdbuf();
    if (!config.is_object()) config = nlohmann::json::object();
    config["chat_template"] = source.str();
  }
  auto result = FromJson(tokenizer, config);
  if (!result.ok()) {
    return absl::Status(result.status().code(), absl::StrCat(dir, ": ", result.status().message()));
  }
  return result;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromJson(const nlohmann::json& tokenizer,
                                                               const nlohmann::json& config) {
  if (!tokenizer.is_object()) {
    return absl::InvalidArgumentError("tokenizer.json: expected a JSON object");
  }
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  // nlohmann throws on type mismatches inside the component factories; no exception may leave
  // this module, so they become InvalidArgument here.
  try {
    if (!tokenizer.contains("model")) {
      return absl::InvalidArgumentError("tokenizer.json: missing \"model\"");
    }
    ASSIGN_OR_RETURN(t->model_, BpeModel::Create(tokenizer["model"]));
    const auto component = [&](const char* key) -> const nlohmann::json* {
      return tokenizer.contains(key) && !tokenizer[key].is_null() ? &tokenizer[key] : nullptr;
    };
    if (const auto* c = component("normalizer")) {
      ASSIGN_OR_RETURN(t->normalizer_, Normalizer::Create(*c));
    }
    if (const auto* c = component("pre_tokenizer")) {
      ASSIGN_OR_RETURN(t->pre_tokenizer_, PreTokenizer::Create(*c));
    }
    if (const auto* c = component("post_processor")) {
      ASSIGN_OR_RETURN(t->post_processor_, PostProcessor::Create(*c));
    }
    if (const auto* c = component("decoder")) {
      ASSIGN_OR_RETURN(t->decoder_, Decoder::Create(*c, &t->added_contents_));
    }
    RETURN_IF_ERROR(t->LoadAddedTokens(tokenizer.value("added_tokens", nlohmann::json::array())));
    if (config.is_object()) RETURN_IF_ERROR(t->LoadConfig(config));
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("tokenizer.json: ", e.what()));
  }
  t->vocab_size_ = t->model_->vocab_size();
  for (const AddedToken& token : t->added_tokens_) {
    t->vocab_size_ = std::max(t->vocab_size_, token.id + 1);
  }
  RETURN_IF_ERROR(t->CheckPostProcessorIds());
  return t;
}

absl::Status Tokenizer::CheckPostProcessorIds() const {
  if (!post_processor_) return absl::OkStatus();
  // TemplateProcessing lists its special tokens' ids itself, apart from the vocab and the added
  // tokens. Hugging Face's tokenizers emit such an id even when no token has it (transformers.js
  // looks the token's name up instead and gets the unknown token), so Encode would return an id
  // outside [0, vocab_size()) that Decode drops and the model may have no embedding for. Such a
  // file is malformed: refuse it at load. The template adds the same ids around every sequence,
  // so processing an empty one lists them all.
  for (const TokenId id : post_processor_->Process({})) {
    if (IdToToken(id).empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokenizer.json: post_processor adds token id ", id,
                       ", which is neither in the model's vocab nor an added token"));
    }
  }
  return absl::OkStatus();
}

absl::Status Tokenizer::LoadAddedTokens(const nlohmann::json& added_tokens) {
  if (!added_tokens.is_array()) {
    return absl::InvalidArgumentError("tokenizer.json: \"added_tokens\" must be a list");
  }
  for (const auto& entry : added_tokens) {
    const std::optional<int64_t> id = entry.is_object() && entry.contains("id")
                                          ? JsonIndex(entry["id"], kMaxTokenId)
                                          : std::nullopt;
    if (!id || !entry.contains("content") || !entry["content"].is_string()) {
      return absl::InvalidArgumentError(
          "tokenizer.json: an added token lacks a string \"content\" or an integer \"id\"");
    }
    AddedToken token{entry["content"].get<std::string>(), static_cast<TokenId>(*id),
                     entry.value("special", false), entry.value("lstrip", false),
                     entry.value("rstrip", false)};
    if (token.content.empty()) continue;
    const size_t index = added_tokens_.size();
    added_by_id_[token.id] = index;
    added_by_content_[token.content] = index;
    added_contents_.insert(token.content);
    if (token.special) special_ids_.insert(token.id);
    added_first_bytes_[static_cast<uint8_t>(token.content[0])] = true;
    int32_t node = 0;
    for (unsigned char b : token.content) {
      const uint64_t key = (static_cast<uint64_t>(node) << 8) | b;
      auto [it, inserted] = trie_edges_.try_emplace(key, trie_num_nodes_);
      if (inserted) ++trie_num_nodes_;
      node = it->second;
    }
    trie_terminals_[node] = index;
    added_tokens_.push_back(std::move(token));
  }
  return absl::OkStatus();
}

absl::Status Tokenizer::LoadConfig(const nlohmann::json& config) {
  bos_token_ = TokenContent(config.value("bos_token", nlohmann::json()));
  eos_token_ = TokenContent(config.value("eos_token", nlohmann::json()));
  if (config.contains("clean_up_tokenization_spaces") &&
      config["clean_up_tokenization_spaces"].is_boolean()) {
    clean_up_tokenization_spaces_ = config["clean_up_tokenization_spaces"].get<bool>();
  }
  split_special_tokens_ = config.value("split_special_tokens", false);
  for (const auto& token : config.value("additional_special_tokens", nlohmann::json::array())) {
    if (const auto id = TokenToId(TokenContent(token))) special_ids_.insert(*id);
  }
  const nlohmann::json source = config.value("chat_template", nlohmann::json());
  std::string template_source;
  if (source.is_string()) {
    template_source = source.get<std::string>();
  } else if (source.is_array()) {
    // Named templates: [{"name": "default", "template": ...}, ...]; the default one is used.
    for (const auto& named : source) {
      if (named.value("name", std::string()) == "default") {
        template_source = named.value("template", std::string());
      }
    }
  }
  if (!template_source.empty()) {
    auto parsed = ChatTemplate::Parse(template_source);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokenizer_config.json chat_template: ", parsed.status().message()));
    }
    chat_template_ = std::make_unique<ChatTemplate>(std::move(parsed).value());
  }
  return absl::OkStatus();
}

std::optional<TokenId> Tokenizer::TokenToId(std::string_view token) const {
  if (token.empty()) return std::nullopt;
  if (const auto it = added_by_content_.find(absl::string_view(token.data(), token.size()));
      it != added_by_content_.end()) {
    return added_tokens_[it->second].id;
  }
  return model_->TokenToId(token);
}

std::string Tokenizer::IdToToken(TokenId id) const {
  if (const auto it = added_by_id_.find(id); it != added_by_id_.end()) {
    return added_tokens_[it->second].content;
  }
  return model_->IdToToken(id);
}

const Tokenizer::AddedToken* Tokenizer::MatchAddedToken(std::string_view text, size_t pos) const {
  const AddedToken* match = nullptr;
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const uint64_t key = (static_cast<uint64_t>(node) << 8) | static_cast<uint8_t>(text[i]);
    const auto edge = trie_edges_.find(key);
    if (edge == trie_edges_.end()) break;
    node = edge->second;
    if (const auto t = trie_terminals_.find(node); t != trie_terminals_.end()) {
      const AddedToken& token = added_tokens_[t->second];
      if (!(split_special_tokens_ && token.special)) match = &token;
    }
  }
  return match;
}

std::vector<Tokenizer::Section> Tokenizer::SplitAddedTokens(std::string_view text) const {
  std::vector<Section> sections;
  size_t start = 0, pos = 0;
  while (pos < text.size()) {
    const AddedToken* token =
        added_first_bytes_[static_cast<uint8_t>(text[pos])] ? MatchAddedToken(text, pos) : nullptr;
    if (token == nullptr) {
      ++pos;
      continue;
    }
    if (pos > start) sections.push_back({text.substr(start, pos - start)});
    sections.push_back({text.substr(pos, token->content.size()), token});
    pos += token->content.size();
    start = pos;
  }
  if (start < text.size()) sections.push_back({text.substr(start)});
  for (size_t i = 0; i < sections.size(); ++i) {
    const AddedToken* token = sections[i].added;
    if (token == nullptr) continue;
    if (token->lstrip && i > 0 && !sections[i - 1].added) {
      sections[i - 1].text = TrimJsWhitespace(sections[i - 1].text, false, true);
    }
    if (token->rstrip && i + 1 < sections.size() && !sections[i + 1].added) {
      sections[i + 1].text = TrimJsWhitespace(sections[i + 1].text, true, false);
    }
  }
  return sections;
}

void Tokenizer::EncodeSection(std::string_view text, bool first_section, WordCache& cache,
                              std::vector<TokenId>& ids) const {
  constexpr size_t kMaxCachedWordBytes = 64;
  std::string normalized = normalizer_ ? normalizer_->Normalize(text) : std::string(text);
  if (normalized.empty()) return;
  std::vector<std::string> words;
  words.push_back(std::move(normalized));
  if (pre_tokenizer_) pre_tokenizer_->PreTokenize(words, first_section);
  const size_t begin = ids.size();
  for (std::string& word : words) {
    if (word.size() > kMaxCachedWordBytes) {
      model_->EncodeWord(word, ids);
      continue;
    }
    auto [it, inserted] = cache.try_emplace(std::move(word));
    if (inserted) model_->EncodeWord(it->first, it->second);
    ids.insert(ids.end(), it->second.begin(), it->second.end());
  }
  std::vector<TokenId> section(ids.begin() + begin, ids.end());
  model_->FuseUnknown(section);
  ids.resize(begin);
  ids.insert(ids.end(), section.begin(), section.end());
}

std::vector<TokenId> Tokenizer::Encode(std::string_view text, bool add_special_tokens) const {
  const std::string valid = utf8::ToValidLossy(text);
  std::vector<TokenId> ids;
  ids.reserve(valid.size() / 3 + 4);
  bool first_section = true;
  WordCache cache;
  for (const Section& section : SplitAddedTokens(valid)) {
    if (section.added != nullptr) {
      ids.push_back(section.added->id);
    } else if (!section.text.empty()) {
      EncodeSection(section.text, first_section, cache, ids);
    }
    first_section = false;
  }
  if (add_special_tokens && post_processor_) ids = post_processor_->Process(std::move(ids));
  return ids;
}

std::string Tokenizer::Decode(std::span<const TokenId> ids, bool skip_special_tokens) const {
  return Decode(ids, skip_special_tokens, clean_up_tokenization_spaces_);
}

std::string Tokenizer::Decode(std::span<const TokenId> ids, bool skip_special_tokens,
                              bool clean_up_tokenization_spaces) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (TokenId id : ids) {
    if (skip_special_tokens && special_ids_.contains(id)) continue;
    std::string token = IdToToken(id);
    if (!token.empty()) tokens.push_back(std::move(token));
  }
  std::string text = decoder_ ? absl::StrJoin(decoder_->DecodeChain(std::move(tokens)), "")
                              : absl::StrJoin(tokens, " ");
  if (clean_up_tokenization_spaces) text = CleanUpTokenization(std::move(text));
  return text;
}

}  // namespace junction
