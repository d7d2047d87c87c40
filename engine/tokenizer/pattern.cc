#include "engine/tokenizer/pattern.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "absl/strings/str_cat.h"

namespace junction {
namespace {

class LiteralPattern : public Pattern {
 public:
  explicit LiteralPattern(std::string literal) : literal_(std::move(literal)) {}
  std::vector<std::pair<size_t, size_t>> FindAll(std::string_view text) const override {
    std::vector<std::pair<size_t, size_t>> matches;
    if (literal_.empty()) return matches;
    size_t pos = 0;
    while ((pos = text.find(literal_, pos)) != std::string_view::npos) {
      matches.emplace_back(pos, pos + literal_.size());
      pos += literal_.size();
    }
    return matches;
  }

 private:
  std::string literal_;
};

class RegexPattern : public Pattern {
 public:
  explicit RegexPattern(pcre2_code* code) : code_(code) {}
  ~RegexPattern() override { pcre2_code_free(code_); }
  RegexPattern(const RegexPattern&) = delete;
  RegexPattern& operator=(const RegexPattern&) = delete;

  std::vector<std::pair<size_t, size_t>> FindAll(std::string_view text) const override {
    std::vector<std::pair<size_t, size_t>> matches;
    pcre2_match_data* data = pcre2_match_data_create_from_pattern(code_, nullptr);
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t offset = 0;
    while (offset <= text.size()) {
      // The caller guarantees well-formed UTF-8, so PCRE2's own check is skipped (it is O(n)
      // per call, which would make the loop quadratic).
      const int rc =
          pcre2_match(code_, subject, text.size(), offset, PCRE2_NO_UTF_CHECK, data, nullptr);
      if (rc < 0) break;  // PCRE2_ERROR_NOMATCH or a resource limit: no further matches
      const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data);
      const size_t begin = ovector[0], end = ovector[1];
      if (end > begin) {
        matches.emplace_back(begin, end);
        offset = end;
      } else {
        // Empty match: step over one whole code point.
        offset = begin + 1;
        while (offset < text.size() && (static_cast<uint8_t>(text[offset]) & 0xC0) == 0x80) {
          ++offset;
        }
      }
    }
    pcre2_match_data_free(data);
    return matches;
  }

 private:
  pcre2_code* code_;
};

}  // namespace

std::string Pattern::ReplaceAll(std::string_view text, std::string_view content) const {
  std::string out;
  out.reserve(text.size());
  size_t prev = 0;
  for (const auto& [begin, end] : FindAll(text)) {
    out.append(text.substr(prev, begin - prev));
    out.append(content);
    prev = end;
  }
  out.append(text.substr(prev));
  return out;
}

absl::StatusOr<std::unique_ptr<Pattern>> Pattern::CreateRegex(const std::string& regex) {
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(regex.data()), regex.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error, &error_offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    return absl::InvalidArgumentError(absl::StrCat("invalid regex pattern at offset ", error_offset,
                                                   ": ", reinterpret_cast<char*>(message)));
  }
  // JIT is an optimization only; the interpreter is used when it is unavailable.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  return std::make_unique<RegexPattern>(code);
}

absl::StatusOr<std::unique_ptr<Pattern>> Pattern::Create(const nlohmann::json& config) {
  if (config.is_object() && config.contains("String") && config["String"].is_string()) {
    return std::make_unique<LiteralPattern>(config["String"].get<std::string>());
  }
  if (config.is_object() && config.contains("Regex") && config["Regex"].is_string()) {
    return CreateRegex(config["Regex"].get<std::string>());
  }
  return absl::InvalidArgumentError("pattern: expected {\"String\": ...} or {\"Regex\": ...}");
}

}  // namespace junction
