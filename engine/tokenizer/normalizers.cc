#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "engine/tokenizer/components.h"
#include "engine/tokenizer/nfc.h"
#include "engine/tokenizer/pattern.h"

namespace junction {
namespace {

class NfcNormalizer : public Normalizer {
 public:
  std::string Normalize(std::string_view text) const override { return NormalizeNfc(text); }
};

class ReplaceNormalizer : public Normalizer {
 public:
  explicit ReplaceNormalizer(std::unique_ptr<Pattern> pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  std::string Normalize(std::string_view text) const override {
    return pattern_->ReplaceAll(text, content_);
  }

 private:
  std::unique_ptr<Pattern> pattern_;
  std::string content_;
};

class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  std::string Normalize(std::string_view text) const override {
    // Hugging Face prepends only to non-empty text.
    if (text.empty()) return std::string();
    return prefix_ + std::string(text);
  }

 private:
  std::string prefix_;
};

class LowercaseNormalizer : public Normalizer {
 public:
  std::string Normalize(std::string_view text) const override {
    // ASCII only: full Unicode lowercasing is not needed by the supported tokenizers.
    std::string out(text);
    for (char& c : out) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
  }
};

class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  std::string Normalize(std::string_view text) const override {
    const auto is_space = [](char c) {
      return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
    };
    size_t begin = 0, end = text.size();
    if (left_) {
      while (begin < end && is_space(text[begin])) ++begin;
    }
    if (right_) {
      while (end > begin && is_space(text[end - 1])) --end;
    }
    return std::string(text.substr(begin, end - begin));
  }

 private:
  bool left_, right_;
};

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> steps)
      : steps_(std::move(steps)) {}
  std::string Normalize(std::string_view text) const override {
    std::string current(text);
    for (const auto& step : steps_) current = step->Normalize(current);
    return current;
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Normalizer>> Normalizer::Create(const nlohmann::json& config) {
  if (!config.is_object() || !config.contains("type") || !config["type"].is_string()) {
    return absl::InvalidArgumentError("normalizer: expected an object with a string \"type\"");
  }
  const std::string type = config["type"];
  if (type == "NFC") return std::make_unique<NfcNormalizer>();
  if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
  if (type == "Strip") {
    return std::make_unique<StripNormalizer>(config.value("strip_left", true),
                                             config.value("strip_right", true));
  }
  if (type == "Prepend") {
    if (!config.contains("prepend") || !config["prepend"].is_string()) {
      return absl::InvalidArgumentError("normalizer Prepend: missing string \"prepend\"");
    }
    return std::make_unique<PrependNormalizer>(config["prepend"].get<std::string>());
  }
  if (type == "Replace") {
    ASSIGN_OR_RETURN(auto pattern, Pattern::Create(config.value("pattern", nlohmann::json())));
    if (!config.contains("content") || !config["content"].is_string()) {
      return absl::InvalidArgumentError("normalizer Replace: missing string \"content\"");
    }
    return std::make_unique<ReplaceNormalizer>(std::move(pattern),
                                               config["content"].get<std::string>());
  }
  if (type == "Sequence") {
    if (!config.contains("normalizers") || !config["normalizers"].is_array()) {
      return absl::InvalidArgumentError("normalizer Sequence: missing array \"normalizers\"");
    }
    std::vector<std::unique_ptr<Normalizer>> steps;
    for (const auto& step : config["normalizers"]) {
      ASSIGN_OR_RETURN(auto normalizer, Normalizer::Create(step));
      steps.push_back(std::move(normalizer));
    }
    return std::make_unique<SequenceNormalizer>(std::move(steps));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported normalizer type \"", type,
                   "\" (supported: NFC, Replace, Prepend, Lowercase, Strip, Sequence)"));
}

}  // namespace junction
