// Tokenizes a Jinja template (after transformers' preprocessing: final newline dropped,
// trim_blocks, lstrip_blocks). Whitespace-control markers ("{%-", "-}}", ...) are applied here,
// so the parser sees plain text tokens.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace junction::jinja {

struct Token {
  enum class Kind {
    kText,       // literal template text
    kExprOpen,   // {{
    kExprClose,  // }}
    kStmtOpen,   // {%
    kStmtClose,  // %}
    kName,
    kString,  // text holds the unescaped contents
    kInt,
    kFloat,
    kOp,  // punctuation and operators: == != <= >= // ** + - * / % ~ | . , : ( ) [ ] { } = < >
    kEnd,
  };
  Kind kind;
  std::string text;
  int line;
};

// InvalidArgument "line N: ..." for an unterminated tag, string or comment, or an unexpected
// character.
absl::StatusOr<std::vector<Token>> Lex(std::string_view source);

}  // namespace junction::jinja
