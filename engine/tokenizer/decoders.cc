#include <climits>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/common/status_macros.h"
#include "engine/tokenizer/components.h"
#include "engine/tokenizer/pattern.h"
#include "engine/tokenizer/utf8.h"

namespace junction {
namespace {

constexpr char kMetaspace[] = "\xE2\x96\x81";  // U+2581

class ByteLevelDecoder : public Decoder {
 public:
  explicit ByteLevelDecoder(const absl::flat_hash_set<std::string>* added_tokens)
      : added_tokens_(added_tokens) {}

  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    // Added tokens are plain text, not byte stand-ins: decode the runs between them separately.
    std::vector<std::string> out;
    std::string bytes;
    const auto flush = [&] {
      if (!bytes.empty()) out.push_back(utf8::ToValidLossy(bytes));
      bytes.clear();
    };
    for (const std::string& token : tokens) {
      if (added_tokens_ != nullptr && added_tokens_->contains(token)) {
        flush();
        out.push_back(token);
        continue;
      }
      AppendBytes(token, bytes);
    }
    flush();
    return out;
  }

 private:
  static void AppendBytes(std::string_view token, std::string& bytes) {
    const size_t mark = bytes.size();
    size_t pos = 0;
    while (pos < token.size()) {
      const int b = UnicodeToByte(utf8::Next(token, &pos));
      if (b < 0) {
        // Not a byte stand-in: keep the token's own bytes, as Hugging Face does.
        bytes.resize(mark);
        bytes.append(token);
        return;
      }
      bytes.push_back(static_cast<char>(b));
    }
  }

  const absl::flat_hash_set<std::string>* added_tokens_;
};

int ParseByteToken(std::string_view token) {
  if (token.size() != 6 || token.substr(0, 3) != "<0x" || token[5] != '>') return -1;
  int value = 0;
  for (char c : token.substr(3, 2)) {
    value *= 16;
    if (c >= '0' && c <= '9') {
      value += c - '0';
    } else if (c >= 'A' && c <= 'F') {
      value += c - 'A' + 10;
    } else if (c >= 'a' && c <= 'f') {
      value += c - 'a' + 10;
    } else {
      return -1;
    }
  }
  return value;
}

class ByteFallbackDecoder : public Decoder {
 public:
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    std::vector<std::string> out;
    std::string bytes;
    for (std::string& token : tokens) {
      const int b = ParseByteToken(token);
      if (b >= 0) {
        bytes.push_back(static_cast<char>(b));
        continue;
      }
      if (!bytes.empty()) out.push_back(utf8::ToValidLossy(bytes));
      bytes.clear();
      out.push_back(std::move(token));
    }
    if (!bytes.empty()) out.push_back(utf8::ToValidLossy(bytes));
    return out;
  }
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(std::unique_ptr<Pattern> pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    for (std::string& token : tokens) token = pattern_->ReplaceAll(token, content_);
    return tokens;
  }

 private:
  std::unique_ptr<Pattern> pattern_;
  std::string content_;
};

class FuseDecoder : public Decoder {
 public:
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    return {absl::StrJoin(tokens, "")};
  }
};

class StripDecoder : public Decoder {
 public:
  StripDecoder(std::string content, int start, int stop)
      : content_(std::move(content)), start_(start), stop_(stop) {}
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    for (std::string& token : tokens) {
      size_t begin = 0, end = token.size();
      for (int i = 0; i < start_ && token.compare(begin, content_.size(), content_) == 0; ++i) {
        begin += content_.size();
      }
      for (int i = 0; i < stop_ && end >= begin + content_.size() &&
                      token.compare(end - content_.size(), content_.size(), content_) == 0;
           ++i) {
        end -= content_.size();
      }
      token = token.substr(begin, end - begin);
    }
    return tokens;
  }

 private:
  std::string content_;
  int start_, stop_;
};

class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, bool strip_first)
      : replacement_(std::move(replacement)), strip_first_(strip_first) {}
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      tokens[i] = ReplaceAll(tokens[i], replacement_, " ");
      if (i == 0 && strip_first_ && !tokens[i].empty() && tokens[i][0] == ' ') {
        tokens[i].erase(0, 1);
      }
    }
    return tokens;
  }

 private:
  std::string replacement_;
  bool strip_first_;
};

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> steps)
      : steps_(std::move(steps)) {}
  std::vector<std::string> DecodeChain(std::vector<std::string> tokens) const override {
    for (const auto& step : steps_) tokens = step->DecodeChain(std::move(tokens));
    return tokens;
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

absl::StatusOr<std::unique_ptr<Decoder>> CreateMetaspaceDecoder(const nlohmann::json& config) {
  std::string replacement = kMetaspace;
  if (config.contains("replacement") && config["replacement"].is_string()) {
    replacement = config["replacement"].get<std::string>();
  }
  bool strip_first = true;
  if (config.contains("prepend_scheme") && config["prepend_scheme"].is_string()) {
    strip_first = config["prepend_scheme"].get<std::string>() != "never";
  } else if (config.contains("add_prefix_space") && config["add_prefix_space"].is_boolean()) {
    strip_first = config["add_prefix_space"].get<bool>();
  }
  return std::make_unique<MetaspaceDecoder>(replacement, strip_first);
}

// A Strip decoder's "start" / "stop": a non-negative integer, 0 when absent.
absl::StatusOr<int> CountField(const nlohmann::json& config, const char* name) {
  const auto it = config.find(name);
  if (it == config.end()) return 0;
  const std::optional<int64_t> count = JsonIndex(*it, INT32_MAX);
  if (!count) {
    return absl::InvalidArgumentError(
        absl::StrCat("decoder Strip: \"", name, "\" must be a non-negative integer"));
  }
  return static_cast<int>(*count);
}

}  // namespace

std::string ReplaceAll(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(text.size());
  size_t prev = 0, pos;
  while ((pos = text.find(from, prev)) != std::string_view::npos) {
    out.append(text.substr(prev, pos - prev));
    out.append(to);
    prev = pos + from.size();
  }
  out.append(text.substr(prev));
  return out;
}

std::string CleanUpTokenization(std::string text) {
  static constexpr std::pair<const char*, const char*> kRules[] = {
      {" .", "."},     {" ?", "?"},   {" !", "!"},   {" ,", ","},     {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kRules) {
    if (text.find(from) != std::string::npos) text = ReplaceAll(text, from, to);
  }
  return text;
}

absl::StatusOr<std::unique_ptr<Decoder>> Decoder::Create(
    const nlohmann::json& config, const absl::flat_hash_set<std::string>* added_tokens) {
  if (!config.is_object() || !config.contains("type") || !config["type"].is_string()) {
    return absl::InvalidArgumentError("decoder: expected an object with a string \"type\"");
  }
  const std::string type = config["type"];
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>(added_tokens);
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Metaspace") return CreateMetaspaceDecoder(config);
  if (type == "Replace") {
    ASSIGN_OR_RETURN(auto pattern, Pattern::Create(config.value("pattern", nlohmann::json())));
    if (!config.contains("content") || !config["content"].is_string()) {
      return absl::InvalidArgumentError("decoder Replace: missing string \"content\"");
    }
    return std::make_unique<ReplaceDecoder>(std::move(pattern),
                                            config["content"].get<std::string>());
  }
  if (type == "Strip") {
    if (!config.contains("content") || !config["content"].is_string()) {
      return absl::InvalidArgumentError("decoder Strip: missing string \"content\"");
    }
    ASSIGN_OR_RETURN(const int start, CountField(config, "start"));
    ASSIGN_OR_RETURN(const int stop, CountField(config, "stop"));
    return std::make_unique<StripDecoder>(config["content"].get<std::string>(), start, stop);
  }
  if (type == "Sequence") {
    if (!config.contains("decoders") || !config["decoders"].is_array()) {
      return absl::InvalidArgumentError("decoder Sequence: missing array \"decoders\"");
    }
    std::vector<std::unique_ptr<Decoder>> steps;
    for (const auto& step : config["decoders"]) {
      ASSIGN_OR_RETURN(auto decoder, Decoder::Create(step, added_tokens));
      steps.push_back(std::move(decoder));
    }
    return std::make_unique<SequenceDecoder>(std::move(steps));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unsupported decoder type \"", type,
      "\" (supported: ByteLevel, ByteFallback, Fuse, Metaspace, Replace, Strip, Sequence)"));
}

}  // namespace junction
