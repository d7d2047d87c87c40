#include "engine/tokenizer/chat_template/lexer.h"

#include "absl/strings/str_cat.h"
#include "engine/tokenizer/utf8.h"

namespace junction::jinja {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// transformers' preprocessing (as @huggingface/jinja implements it): drop one final newline,
// lstrip_blocks (spaces/tabs before a block tag at line start), trim_blocks (the newline right
// after a block tag).
std::string Preprocess(std::string_view source) {
  std::string text(source);
  if (!text.empty() && text.back() == '\n') text.pop_back();
  std::string lstripped;
  lstripped.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (i == 0 || text[i - 1] == '\n') {
      size_t j = i;
      while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) ++j;
      if (j + 1 < text.size() && text[j] == '{' &&
          (text[j + 1] == '#' || text[j + 1] == '%' || text[j + 1] == '-')) {
        i = j;
      }
    }
    lstripped.push_back(text[i++]);
  }
  std::string out;
  out.reserve(lstripped.size());
  for (size_t k = 0; k < lstripped.size(); ++k) {
    out.push_back(lstripped[k]);
    if (k >= 1 && lstripped[k] == '}' &&
        (lstripped[k - 1] == '#' || lstripped[k - 1] == '%' || lstripped[k - 1] == '-') &&
        k + 1 < lstripped.size() && lstripped[k + 1] == '\n') {
      ++k;
    }
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string src) : src_(std::move(src)) {}

  absl::StatusOr<std::vector<Token>> Run() {
    bool strip_next_text = false;
    while (pos_ < src_.size()) {
      size_t open = src_.find('{', pos_);
      while (open != std::string::npos && open + 1 < src_.size() && src_[open + 1] != '{' &&
             src_[open + 1] != '%' && src_[open + 1] != '#') {
        open = src_.find('{', open + 1);
      }
      if (open == std::string::npos || open + 1 >= src_.size()) open = src_.size();
      std::string text = src_.substr(pos_, open - pos_);
      if (strip_next_text) {
        size_t k = 0;
        while (k < text.size() && IsSpace(text[k])) ++k;
        text.erase(0, k);
      }
      AdvanceTo(open);
      if (pos_ >= src_.size()) {
        if (!text.empty()) tokens_.push_back({Token::Kind::kText, text, line_});
        break;
      }
      const char kind = src_[pos_ + 1];
      const bool strip_before = pos_ + 2 < src_.size() && src_[pos_ + 2] == '-';
      if (strip_before) {
        while (!text.empty() && IsSpace(text.back())) text.pop_back();
      }
      if (!text.empty()) tokens_.push_back({Token::Kind::kText, text, line_});
      AdvanceTo(pos_ + (strip_before ? 3 : 2));
      absl::Status status =
          kind == '#' ? SkipComment(&strip_next_text) : LexTag(kind == '{', &strip_next_text);
      if (!status.ok()) return status;
    }
    tokens_.push_back({Token::Kind::kEnd, "", line_});
    return std::move(tokens_);
  }

 private:
  absl::Status Error(const std::string& message) const {
    return absl::InvalidArgumentError(absl::StrCat("line ", line_, ": ", message));
  }

  void AdvanceTo(size_t target) {
    for (; pos_ < target && pos_ < src_.size(); ++pos_) {
      if (src_[pos_] == '\n') ++line_;
    }
  }

  absl::Status SkipComment(bool* strip_next_text) {
    const size_t close = src_.find("#}", pos_);
    if (close == std::string::npos) return Error("unterminated comment");
    *strip_next_text = close > pos_ && src_[close - 1] == '-';
    AdvanceTo(close + 2);
    return absl::OkStatus();
  }

  absl::Status LexTag(bool is_expression, bool* strip_next_text) {
    tokens_.push_back({is_expression ? Token::Kind::kExprOpen : Token::Kind::kStmtOpen, "", line_});
    int curly_depth = 0;
    while (true) {
      while (pos_ < src_.size() && IsSpace(src_[pos_])) AdvanceTo(pos_ + 1);
      if (pos_ >= src_.size()) return Error("unterminated tag");
      const std::string_view rest = std::string_view(src_).substr(pos_);
      const std::string_view close = is_expression ? "}}" : "%}";
      const bool dash_close = rest.size() >= 3 && rest[0] == '-' && rest.substr(1, 2) == close;
      if (curly_depth == 0 && (rest.substr(0, 2) == close || dash_close)) {
        *strip_next_text = dash_close;
        tokens_.push_back(
            {is_expression ? Token::Kind::kExprClose : Token::Kind::kStmtClose, "", line_});
        AdvanceTo(pos_ + (dash_close ? 3 : 2));
        return absl::OkStatus();
      }
      const char c = src_[pos_];
      if (c == '\'' || c == '"') {
        absl::Status status = LexString(c);
        if (!status.ok()) return status;
      } else if (IsDigit(c)) {
        size_t end = pos_;
        while (end < src_.size() && IsDigit(src_[end])) ++end;
        bool is_float = false;
        if (end + 1 < src_.size() && src_[end] == '.' && IsDigit(src_[end + 1])) {
          is_float = true;
          ++end;
          while (end < src_.size() && IsDigit(src_[end])) ++end;
        }
        tokens_.push_back({is_float ? Token::Kind::kFloat : Token::Kind::kInt,
                           src_.substr(pos_, end - pos_), line_});
        AdvanceTo(end);
      } else if (IsNameStart(c)) {
        size_t end = pos_;
        while (end < src_.size() && (IsNameStart(src_[end]) || IsDigit(src_[end]))) ++end;
        tokens_.push_back({Token::Kind::kName, src_.substr(pos_, end - pos_), line_});
        AdvanceTo(end);
      } else {
        static constexpr std::string_view kTwoChar[] = {"==", "!=", "<=", ">=", "//", "**"};
        std::string op(1, c);
        for (std::string_view two : kTwoChar) {
          if (rest.substr(0, 2) == two) op = std::string(two);
        }
        if (op.size() == 1 &&
            std::string_view("+-*/%~|.,:()[]{}=<>").find(c) == std::string_view::npos) {
          return Error(absl::StrCat("unexpected character '", std::string(1, c), "'"));
        }
        if (op == "{") ++curly_depth;
        if (op == "}") --curly_depth;
        tokens_.push_back({Token::Kind::kOp, op, line_});
        AdvanceTo(pos_ + op.size());
      }
    }
  }

  absl::Status LexString(char quote) {
    const int start_line = line_;
    std::string value;
    size_t i = pos_ + 1;
    while (i < src_.size() && src_[i] != quote) {
      if (src_[i] != '\\') {
        value.push_back(src_[i++]);
        continue;
      }
      if (i + 1 >= src_.size()) break;
      const char e = src_[i + 1];
      i += 2;
      switch (e) {
        case 'n':
          value.push_back('\n');
          break;
        case 't':
          value.push_back('\t');
          break;
        case 'r':
          value.push_back('\r');
          break;
        case 'b':
          value.push_back('\b');
          break;
        case 'f':
          value.push_back('\f');
          break;
        case 'v':
          value.push_back('\v');
          break;
        case '0':
          value.push_back('\0');
          break;
        case 'x':
        case 'u': {
          const size_t digits = e == 'x' ? 2 : 4;
          if (i + digits > src_.size()) return Error("bad escape in string");
          char32_t cp = 0;
          for (size_t k = 0; k < digits; ++k) {
            const char h = src_[i + k];
            const int d = IsDigit(h)               ? h - '0'
                          : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                          : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                                   : -1;
            if (d < 0) return Error("bad escape in string");
            cp = cp * 16 + d;
          }
          utf8::Append(cp, value);
          i += digits;
          break;
        }
        default:
          value.push_back(e);  // \\ \' \" and unknown escapes keep the character
      }
    }
    if (i >= src_.size()) {
      line_ = start_line;
      return Error("unterminated string literal");
    }
    tokens_.push_back({Token::Kind::kString, std::move(value), start_line});
    AdvanceTo(i + 1);
    return absl::OkStatus();
  }

  std::string src_;
  size_t pos_ = 0;
  int line_ = 1;
  std::vector<Token> tokens_;
};

}  // namespace

absl::StatusOr<std::vector<Token>> Lex(std::string_view source) {
  return Lexer(Preprocess(source)).Run();
}

}  // namespace junction::jinja
