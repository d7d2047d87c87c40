#include <array>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "engine/tokenizer/components.h"
#include "engine/tokenizer/pattern.h"
#include "engine/tokenizer/utf8.h"

namespace junction {
namespace {

constexpr char kGpt2Regex[] =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct ByteMaps {
  std::array<std::string, 256> byte_to_utf8;
  std::array<int, 324> code_point_to_byte;  // stand-ins all lie below U+0144
};

const ByteMaps& GetByteMaps() {
  static const ByteMaps* maps = [] {
    auto* m = new ByteMaps();
    m->code_point_to_byte.fill(-1);
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      const int cp = printable ? b : next++;
      utf8::Append(static_cast<char32_t>(cp), m->byte_to_utf8[b]);
      m->code_point_to_byte[cp] = b;
    }
    return m;
  }();
  return *maps;
}

enum class SplitBehavior { kIsolated, kRemoved, kMergedWithPrevious, kMergedWithNext, kContiguous };

class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(std::unique_ptr<Pattern> pattern, SplitBehavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}

  void PreTokenize(std::vector<std::string>& words, bool) const override {
    std::vector<std::string> out;
    for (const std::string& word : words) SplitOne(word, out);
    words = std::move(out);
  }

 private:
  void SplitOne(std::string_view text, std::vector<std::string>& out) const {
    // Segments of the text, each flagged as delimiter (a match, or a gap when inverted).
    std::vector<std::pair<std::string_view, bool>> segments;
    size_t prev = 0;
    for (const auto& [begin, end] : pattern_->FindAll(text)) {
      if (begin > prev) segments.emplace_back(text.substr(prev, begin - prev), invert_);
      segments.emplace_back(text.substr(begin, end - begin), !invert_);
      prev = end;
    }
    if (prev < text.size()) segments.emplace_back(text.substr(prev), invert_);

    std::string pending;  // MergedWithNext carries delimiters forward
    bool last_was_delimiter = false;
    for (const auto& [piece, is_delimiter] : segments) {
      switch (behavior_) {
        case SplitBehavior::kIsolated:
          out.emplace_back(piece);
          break;
        case SplitBehavior::kRemoved:
          if (!is_delimiter) out.emplace_back(piece);
          break;
        case SplitBehavior::kMergedWithPrevious:
          if (is_delimiter && !out.empty() && !last_was_delimiter) {
            out.back().append(piece);
          } else {
            out.emplace_back(piece);
          }
          break;
        case SplitBehavior::kMergedWithNext:
          if (is_delimiter) {
            if (!pending.empty()) out.push_back(std::move(pending));
            pending = std::string(piece);
          } else {
            out.push_back(pending + std::string(piece));
            pending.clear();
          }
          break;
        case SplitBehavior::kContiguous:
          if (is_delimiter && last_was_delimiter && !out.empty()) {
            out.back().append(piece);
          } else {
            out.emplace_back(piece);
          }
          break;
      }
      last_was_delimiter = is_delimiter;
    }
    if (!pending.empty()) out.push_back(std::move(pending));
  }

  std::unique_ptr<Pattern> pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, std::unique_ptr<Pattern> regex)
      : add_prefix_space_(add_prefix_space), regex_(std::move(regex)) {}

  void PreTokenize(std::vector<std::string>& words, bool) const override {
    const ByteMaps& maps = GetByteMaps();
    std::vector<std::string> out;
    out.reserve(words.size());
    for (std::string& word : words) {
      if (add_prefix_space_ && (word.empty() || word[0] != ' ')) word.insert(word.begin(), ' ');
      std::vector<std::string_view> pieces;
      if (regex_ != nullptr) {
        for (const auto& [begin, end] : regex_->FindAll(word)) {
          pieces.push_back(std::string_view(word).substr(begin, end - begin));
        }
      } else {
        pieces.push_back(word);
      }
      for (std::string_view piece : pieces) {
        std::string mapped;
        mapped.reserve(piece.size() * 2);
        for (unsigned char b : piece) mapped.append(maps.byte_to_utf8[b]);
        out.push_back(std::move(mapped));
      }
    }
    words = std::move(out);
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Pattern> regex_;  // null when use_regex is false
};

class MetaspacePreTokenizer : public PreTokenizer {
 public:
  enum class Prepend { kAlways, kFirst, kNever };
  MetaspacePreTokenizer(std::string replacement, Prepend prepend, bool split)
      : replacement_(std::move(replacement)), prepend_(prepend), split_(split) {}

  void PreTokenize(std::vector<std::string>& words, bool first_section) const override {
    std::vector<std::string> out;
    for (const std::string& word : words) {
      std::string text = ReplaceAll(word, " ", replacement_);
      const bool prepend =
          prepend_ == Prepend::kAlways || (prepend_ == Prepend::kFirst && first_section);
      if (prepend && text.compare(0, replacement_.size(), replacement_) != 0) {
        text.insert(0, replacement_);
      }
      if (!split_) {
        out.push_back(std::move(text));
        continue;
      }
      // Split before every replacement character, keeping it with what follows.
      size_t start = 0;
      size_t pos = text.find(replacement_, 1);
      while (pos != std::string::npos) {
        out.push_back(text.substr(start, pos - start));
        start = pos;
        pos = text.find(replacement_, pos + replacement_.size());
      }
      if (start < text.size()) out.push_back(text.substr(start));
    }
    words = std::move(out);
  }

 private:
  std::string replacement_;
  Prepend prepend_;
  bool split_;
};

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps)
      : steps_(std::move(steps)) {}
  void PreTokenize(std::vector<std::string>& words, bool first_section) const override {
    for (const auto& step : steps_) step->PreTokenize(words, first_section);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

absl::StatusOr<SplitBehavior> ParseBehavior(const std::string& name) {
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  return absl::InvalidArgumentError(
      absl::StrCat("pre_tokenizer Split: unsupported behavior \"", name, "\""));
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> CreateMetaspace(const nlohmann::json& config) {
  std::string replacement = "\xE2\x96\x81";  // U+2581
  if (config.contains("replacement") && config["replacement"].is_string()) {
    replacement = config["replacement"].get<std::string>();
  }
  auto prepend = MetaspacePreTokenizer::Prepend::kAlways;
  if (config.contains("prepend_scheme") && config["prepend_scheme"].is_string()) {
    const std::string scheme = config["prepend_scheme"];
    if (scheme == "first") {
      prepend = MetaspacePreTokenizer::Prepend::kFirst;
    } else if (scheme == "never") {
      prepend = MetaspacePreTokenizer::Prepend::kNever;
    } else if (scheme != "always") {
      return absl::InvalidArgumentError(
          absl::StrCat("pre_tokenizer Metaspace: unsupported prepend_scheme \"", scheme, "\""));
    }
  } else if (config.contains("add_prefix_space") && config["add_prefix_space"].is_boolean() &&
             !config["add_prefix_space"].get<bool>()) {
    prepend = MetaspacePreTokenizer::Prepend::kNever;
  }
  return std::make_unique<MetaspacePreTokenizer>(replacement, prepend, config.value("split", true));
}

}  // namespace

const std::string& ByteToUnicodeUtf8(uint8_t byte) { return GetByteMaps().byte_to_utf8[byte]; }

int UnicodeToByte(char32_t cp) {
  const ByteMaps& maps = GetByteMaps();
  return cp < maps.code_point_to_byte.size() ? maps.code_point_to_byte[cp] : -1;
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> PreTokenizer::Create(const nlohmann::json& config) {
  if (!config.is_object() || !config.contains("type") || !config["type"].is_string()) {
    return absl::InvalidArgumentError("pre_tokenizer: expected an object with a string \"type\"");
  }
  const std::string type = config["type"];
  if (type == "Split") {
    ASSIGN_OR_RETURN(auto pattern, Pattern::Create(config.value("pattern", nlohmann::json())));
    ASSIGN_OR_RETURN(SplitBehavior behavior,
                     ParseBehavior(config.value("behavior", std::string("Isolated"))));
    return std::make_unique<SplitPreTokenizer>(std::move(pattern), behavior,
                                               config.value("invert", false));
  }
  if (type == "ByteLevel") {
    std::unique_ptr<Pattern> regex;
    if (config.value("use_regex", true)) {
      ASSIGN_OR_RETURN(regex, Pattern::CreateRegex(kGpt2Regex));
    }
    return std::make_unique<ByteLevelPreTokenizer>(config.value("add_prefix_space", false),
                                                   std::move(regex));
  }
  if (type == "Metaspace") return CreateMetaspace(config);
  if (type == "Sequence") {
    if (!config.contains("pretokenizers") || !config["pretokenizers"].is_array()) {
      return absl::InvalidArgumentError("pre_tokenizer Sequence: missing array \"pretokenizers\"");
    }
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (const auto& step : config["pretokenizers"]) {
      ASSIGN_OR_RETURN(auto pre_tokenizer, PreTokenizer::Create(step));
      steps.push_back(std::move(pre_tokenizer));
    }
    return std::make_unique<SequencePreTokenizer>(std::move(steps));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported pre_tokenizer type \"", type,
                   "\" (supported: Split, ByteLevel, Metaspace, Sequence)"));
}

}  // namespace junction
