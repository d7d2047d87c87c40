// Syntax tree of a parsed chat template. Built by parser.cc, walked by interpreter.cc;
// immutable after parsing.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tokenizer/chat_template/lexer.h"
#include "engine/tokenizer/chat_template/value.h"

namespace junction::jinja {

struct Expr;
using ExprPtr = std::shared_ptr<const Expr>;

struct Expr {
  enum class Kind {
    kLiteral,  // literal
    kName,     // name
    kList,     // [args...]
    kTuple,    // (args...)
    kDict,     // {kwargs keys are evaluated: args = key0, value0, key1, value1...}
    kAttr,     // args[0].name
    kIndex,    // args[0][args[1]]
    kSlice,    // args[0][args[1]:args[2]:args[3]] (null parts stay null pointers)
    kCall,     // args[0](args[1..], kwargs)
    kFilter,   // args[0] | name(args[1..], kwargs)
    kTest,     // args[0] is [not] name(args[1..])
    kUnary,    // name in {"not", "-", "+"}: name args[0]
    kBinary,   // args[0] name args[1]; name is an operator, "and", "or", "in", "not in"
    kTernary,  // args[0] if args[1] else args[2] (args[2] may be null)
  };
  Kind kind;
  int line = 0;
  Value literal;
  std::string name;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  bool negated = false;  // kTest: "is not"
  // Levels of this tree (a leaf is 1). Evaluation and destruction recurse through the tree, so
  // the parser bounds it: operator and postfix chains are built by loops, not recursion.
  int depth = 1;
};

struct Stmt;
using StmtPtr = std::shared_ptr<const Stmt>;
using Body = std::vector<StmtPtr>;

struct Stmt {
  enum class Kind {
    kText,      // text
    kOutput,    // {{ expr }}
    kIf,        // branches (condition, body); else_body
    kFor,       // for targets in expr [if filter] body [else else_body]
    kSet,       // set targets = expr; or set name.attr = expr (attr non-empty)
    kSetBlock,  // set targets[0] %} body {% endset
    kMacro,     // macro name(params) body
    kBreak,
    kContinue,
  };
  Kind kind;
  int line = 0;
  std::string text;                  // kText; kMacro: macro name
  ExprPtr expr;                      // kOutput, kFor iterable, kSet value
  ExprPtr filter;                    // kFor: optional "if" condition
  std::vector<std::string> targets;  // kFor loop variables, kSet names
  std::string attr;                  // kSet on a namespace attribute
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body, else_body;
  std::vector<std::pair<std::string, ExprPtr>> params;  // kMacro: name, default (or null)
};

}  // namespace junction::jinja

namespace junction::jinja {
struct TemplateNode {
  Body body;
};

// InvalidArgument "line N: ..." for syntax errors and unsupported statements (naming them).
absl::StatusOr<std::shared_ptr<const TemplateNode>> ParseTemplate(std::vector<Token> tokens);
}  // namespace junction::jinja
