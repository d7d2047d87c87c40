// Recursive-descent parser for the Jinja subset (precedence as in Jinja2: ternary < or < and <
// not < comparisons < + - < ~ < * / // % < ** < unary < postfix / filters / tests).
#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <set>

#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "engine/tokenizer/chat_template/ast.h"

namespace junction::jinja {
namespace {

using TK = Token::Kind;

// Sets e.depth from its children (after they are all attached).
void SetDepth(Expr& e) {
  for (const ExprPtr& arg : e.args)
    if (arg) e.depth = std::max(e.depth, arg->depth + 1);
  for (const auto& [key, value] : e.kwargs)
    if (value) e.depth = std::max(e.depth, value->depth + 1);
}

ExprPtr MakeExpr(Expr::Kind kind, int line, std::string name, std::vector<ExprPtr> args) {
  auto e = std::make_shared<Expr>();
  e->kind = kind;
  e->line = line;
  e->name = std::move(name);
  e->args = std::move(args);
  SetDepth(*e);
  return e;
}

ExprPtr MakeLiteral(Value v, int line) {
  auto e = std::make_shared<Expr>();
  e->kind = Expr::Kind::kLiteral;
  e->line = line;
  e->literal = std::move(v);
  return e;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  absl::StatusOr<std::shared_ptr<const TemplateNode>> Run() {
    auto root = std::make_shared<TemplateNode>();
    std::string end;
    ASSIGN_OR_RETURN(root->body, ParseBody({}, &end));
    return root;
  }

 private:
  // Depth of the recursive descent, bounded so that no template exhausts the stack (a fuzzed
  // "{{((((..." did); real templates nest a few levels.
  static constexpr int kMaxNesting = 100;
  struct Nested {
    explicit Nested(int& depth) : depth(depth) { ++depth; }
    ~Nested() { --depth; }
    int& depth;
  };
  absl::Status TooDeep() const {
    return Error(absl::StrCat("nested more than ", kMaxNesting, " levels deep"));
  }
  // Bound on an expression tree's depth: a chain like "a ~ a ~ a ~ ..." or "x.a.a.a..." is
  // parsed by a loop but evaluated (and freed) recursively. Real templates stay far below.
  static constexpr int kMaxExprDepth = 400;
  absl::Status CheckDepth(const ExprPtr& e) const {
    if (e->depth <= kMaxExprDepth) return absl::OkStatus();
    return Error(absl::StrCat("expression more than ", kMaxExprDepth, " levels deep"));
  }
  int nesting_ = 0;

  const Token& Peek(int ahead = 0) const {
    const size_t i = std::min(pos_ + ahead, tokens_.size() - 1);
    return tokens_[i];
  }
  const Token& Take() { return tokens_[std::min(pos_++, tokens_.size() - 1)]; }
  bool IsOp(const char* op, int ahead = 0) const {
    return Peek(ahead).kind == TK::kOp && Peek(ahead).text == op;
  }
  bool IsName(const char* name, int ahead = 0) const {
    return Peek(ahead).kind == TK::kName && Peek(ahead).text == name;
  }
  absl::Status Error(const std::string& message) const {
    return absl::InvalidArgumentError(absl::StrCat("line ", Peek().line, ": ", message));
  }
  absl::Status Expect(TK kind, const char* text, const char* what) {
    if (Peek().kind != kind || (text != nullptr && Peek().text != text)) {
      return Error(absl::StrCat("expected ", what, ", found '", Peek().text, "'"));
    }
    Take();
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> ExpectName() {
    if (Peek().kind != TK::kName) return Error("expected a name");
    return Take().text;
  }

  // Parses statements until a {% X %} with X in `ends`; consumes "{% X" and leaves the rest.
  absl::StatusOr<Body> ParseBody(const std::set<std::string>& ends, std::string* end) {
    Body body;
    while (true) {
      const Token& t = Peek();
      if (t.kind == TK::kEnd) {
        if (!ends.empty()) {
          return Error(
              absl::StrCat("unexpected end of template (missing {% ", *ends.rbegin(), " %})"));
        }
        return body;
      }
      if (t.kind == TK::kText) {
        auto s = std::make_shared<Stmt>();
        s->kind = Stmt::Kind::kText;
        s->line = t.line;
        s->text = Take().text;
        body.push_back(std::move(s));
      } else if (t.kind == TK::kExprOpen) {
        Take();
        auto s = std::make_shared<Stmt>();
        s->kind = Stmt::Kind::kOutput;
        s->line = t.line;
        ASSIGN_OR_RETURN(s->expr, ParseExpr());
        RETURN_IF_ERROR(Expect(TK::kExprClose, nullptr, "'}}'"));
        body.push_back(std::move(s));
      } else if (t.kind == TK::kStmtOpen) {
        if (Peek(1).kind == TK::kName && ends.count(Peek(1).text)) {
          Take();
          *end = Take().text;
          return body;
        }
        Take();
        ASSIGN_OR_RETURN(StmtPtr s, ParseStatement());
        if (s != nullptr) body.push_back(std::move(s));
      } else {
        return Error(absl::StrCat("unexpected '", t.text, "'"));
      }
    }
  }

  absl::StatusOr<StmtPtr> ParseStatement() {
    Nested nested(nesting_);
    if (nesting_ > kMaxNesting) return TooDeep();
    const int line = Peek().line;
    ASSIGN_OR_RETURN(std::string keyword, ExpectName());
    auto s = std::make_shared<Stmt>();
    s->line = line;
    std::string end;
    if (keyword == "if") {
      s->kind = Stmt::Kind::kIf;
      while (true) {
        ASSIGN_OR_RETURN(ExprPtr condition, ParseExpr());
        RETURN_IF_ERROR(Expect(TK::kStmtClose, nullptr, "'%}'"));
        ASSIGN_OR_RETURN(Body body, ParseBody({"elif", "else", "endif"}, &end));
        s->branches.emplace_back(std::move(condition), std::move(body));
        if (end != "elif") break;
      }
      if (end == "else") {
        RETURN_IF_ERROR(Expect(TK::kStmtClose, nullptr, "'%}'"));
        ASSIGN_OR_RETURN(s->else_body, ParseBody({"endif"}, &end));
      }
    } else if (keyword == "for") {
      s->kind = Stmt::Kind::kFor;
      do {
        ASSIGN_OR_RETURN(std::string target, ExpectName());
        s->targets.push_back(std::move(target));
      } while (IsOp(",") && (Take(), true));
      RETURN_IF_ERROR(Expect(TK::kName, "in", "'in'"));
      ASSIGN_OR_RETURN(s->expr, ParseOr());
      if (IsName("if")) {
        Take();
        ASSIGN_OR_RETURN(s->filter, ParseOr());
      }
      if (IsName("recursive")) return Error("unsupported construct 'for ... recursive'");
      RETURN_IF_ERROR(Expect(TK::kStmtClose, nullptr, "'%}'"));
      ASSIGN_OR_RETURN(s->body, ParseBody({"else", "endfor"}, &end));
      if (end == "else") {
        RETURN_IF_ERROR(Expect(TK::kStmtClose, nullptr, "'%}'"));
        ASSIGN_OR_RETURN(s->else_body, ParseBody({"endfor"}, &end));
      }
    } else if (keyword == "set") {
      RETURN_IF_ERROR(ParseSet(*s));
      if (s->kind == Stmt::Kind::kSetBlock) return StmtPtr(s);  // endset already consumed
    } else if (keyword == "macro") {
      s->kind = Stmt::Kind::kMacro;
      ASSIGN_OR_RETURN(s->text, ExpectName());
      RETURN_IF_ERROR(Expect(TK::kOp, "(", "'('"));
      while (!IsOp(")")) {
        ASSIGN_OR_RETURN(std::string param, ExpectName());
        ExprPtr default_value;
        if (IsOp("=")) {
          Take();
          ASSIGN_OR_RETURN(default_value, ParseExpr());
        }
        s->params.emplace_back(std::move(param), std::move(default_value));
        if (!IsOp(",")) break;
        Take();
      }
      RETURN_IF_ERROR(Expect(TK::kOp, ")", "')'"));
      RETURN_IF_ERROR(Expect(TK::kStmtClose, nullptr, "'%}'"));
      ASSIGN_OR_RETURN(s->body, ParseBody({"endmacro"}, &end));
    } else if (keyword == "break" || keyword == "continue") {
      s->kind = keyword == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue;
    } else if (keyword == "generation" || keyword == "endgeneration") {
      // Assistant-mask markers (transformers' return_assistant_tokens_mask): no output.
      RETURN_IF_ERROR(Expect(TK::kStmtClose, nullptr, "'%}'"));
      return StmtPtr();
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line, ": unsupported construct '{% ", keyword, " %}'"));
    }
    RETURN_IF_ERROR(Expect(TK::kStmtClose, nullptr, "'%}'"));
    return StmtPtr(s);
  }

  absl::Status ParseSet(Stmt& s) {
    ASSIGN_OR_RETURN(std::string first, ExpectName());
    s.targets.push_back(first);
    if (IsOp(".")) {
      Take();
      ASSIGN_OR_RETURN(s.attr, ExpectName());
    }
    while (IsOp(",")) {
      Take();
      ASSIGN_OR_RETURN(std::string target, ExpectName());
      s.targets.push_back(std::move(target));
    }
    if (IsOp("=")) {
      Take();
      s.kind = Stmt::Kind::kSet;
      ASSIGN_OR_RETURN(s.expr, ParseTupleOrExpr());
      return absl::OkStatus();
    }
    if (!s.attr.empty() || s.targets.size() != 1) return Error("block set takes one name");
    s.kind = Stmt::Kind::kSetBlock;
    RETURN_IF_ERROR(Expect(TK::kStmtClose, nullptr, "'%}'"));
    std::string end;
    ASSIGN_OR_RETURN(s.body, ParseBody({"endset"}, &end));
    return Expect(TK::kStmtClose, nullptr, "'%}'");
  }

  // `a, b` without brackets (only where Jinja allows a bare tuple: set values).
  absl::StatusOr<ExprPtr> ParseTupleOrExpr() {
    const int line = Peek().line;
    ASSIGN_OR_RETURN(ExprPtr first, ParseExpr());
    if (!IsOp(",")) return first;
    std::vector<ExprPtr> items{first};
    while (IsOp(",")) {
      Take();
      ASSIGN_OR_RETURN(ExprPtr item, ParseExpr());
      items.push_back(std::move(item));
    }
    return MakeExpr(Expr::Kind::kTuple, line, "", std::move(items));
  }

  absl::StatusOr<ExprPtr> ParseExpr() {
    Nested nested(nesting_);
    if (nesting_ > kMaxNesting) return TooDeep();
    const int line = Peek().line;
    ASSIGN_OR_RETURN(ExprPtr value, ParseOr());
    if (!IsName("if")) return value;
    Take();
    ASSIGN_OR_RETURN(ExprPtr condition, ParseOr());
    ExprPtr otherwise;
    if (IsName("else")) {
      Take();
      ASSIGN_OR_RETURN(otherwise, ParseExpr());
    }
    return MakeExpr(Expr::Kind::kTernary, line, "", {value, condition, otherwise});
  }

  absl::StatusOr<ExprPtr> ParseOr() {
    ASSIGN_OR_RETURN(ExprPtr left, ParseAnd());
    while (IsName("or")) {
      const int line = Take().line;
      ASSIGN_OR_RETURN(ExprPtr right, ParseAnd());
      left = MakeExpr(Expr::Kind::kBinary, line, "or", {left, right});
      RETURN_IF_ERROR(CheckDepth(left));
    }
    return left;
  }

  absl::StatusOr<ExprPtr> ParseAnd() {
    ASSIGN_OR_RETURN(ExprPtr left, ParseNot());
    while (IsName("and")) {
      const int line = Take().line;
      ASSIGN_OR_RETURN(ExprPtr right, ParseNot());
      left = MakeExpr(Expr::Kind::kBinary, line, "and", {left, right});
      RETURN_IF_ERROR(CheckDepth(left));
    }
    return left;
  }

  absl::StatusOr<ExprPtr> ParseNot() {
    Nested nested(nesting_);
    if (nesting_ > kMaxNesting) return TooDeep();
    if (IsName("not")) {
      const int line = Take().line;
      ASSIGN_OR_RETURN(ExprPtr operand, ParseNot());
      return MakeExpr(Expr::Kind::kUnary, line, "not", {operand});
    }
    return ParseCompare();
  }

  absl::StatusOr<ExprPtr> ParseCompare() {
    ASSIGN_OR_RETURN(ExprPtr left, ParseBinary(0));
    while (true) {
      std::string op;
      if (Peek().kind == TK::kOp &&
          (Peek().text == "==" || Peek().text == "!=" || Peek().text == "<" || Peek().text == ">" ||
           Peek().text == "<=" || Peek().text == ">=")) {
        op = Peek().text;
        Take();
      } else if (IsName("in")) {
        op = "in";
        Take();
      } else if (IsName("not") && IsName("in", 1)) {
        op = "not in";
        Take();
        Take();
      } else {
        return left;
      }
      const int line = Peek().line;
      ASSIGN_OR_RETURN(ExprPtr right, ParseBinary(0));
      left = MakeExpr(Expr::Kind::kBinary, line, op, {left, right});
      RETURN_IF_ERROR(CheckDepth(left));
    }
  }

  // Levels: 0 = + -, 1 = ~, 2 = * / // %, 3 = **.
  absl::StatusOr<ExprPtr> ParseBinary(int level) {
    static const std::vector<std::set<std::string>> kLevels = {
        {"+", "-"}, {"~"}, {"*", "/", "//", "%"}, {"**"}};
    if (level == static_cast<int>(kLevels.size())) return ParseUnary();
    ASSIGN_OR_RETURN(ExprPtr left, ParseBinary(level + 1));
    while (Peek().kind == TK::kOp && kLevels[level].count(Peek().text)) {
      const Token op = Take();
      ASSIGN_OR_RETURN(ExprPtr right, ParseBinary(level + 1));
      left = MakeExpr(Expr::Kind::kBinary, op.line, op.text, {left, right});
      RETURN_IF_ERROR(CheckDepth(left));
    }
    return left;
  }

  absl::StatusOr<ExprPtr> ParseUnary() {
    Nested nested(nesting_);
    if (nesting_ > kMaxNesting) return TooDeep();
    if (IsOp("-") || IsOp("+")) {
      const Token op = Take();
      ASSIGN_OR_RETURN(ExprPtr operand, ParseUnary());
      return MakeExpr(Expr::Kind::kUnary, op.line, op.text, {operand});
    }
    ASSIGN_OR_RETURN(ExprPtr primary, ParsePrimary());
    return ParsePostfix(std::move(primary));
  }

  absl::StatusOr<ExprPtr> ParsePostfix(ExprPtr node);
  absl::StatusOr<ExprPtr> ParseSubscript(ExprPtr node, int line);
  absl::StatusOr<ExprPtr> ParsePrimary();
  absl::Status ParseArgs(std::vector<ExprPtr>& args,
                         std::vector<std::pair<std::string, ExprPtr>>& kwargs);

  std::vector<Token> tokens_;
  size_t pos_ = 0;
};

absl::Status Parser::ParseArgs(std::vector<ExprPtr>& args,
                               std::vector<std::pair<std::string, ExprPtr>>& kwargs) {
  RETURN_IF_ERROR(Expect(TK::kOp, "(", "'('"));
  while (!IsOp(")")) {
    if (Peek().kind == TK::kName && IsOp("=", 1)) {
      std::string key = Take().text;
      Take();
      ASSIGN_OR_RETURN(ExprPtr value, ParseExpr());
      kwargs.emplace_back(std::move(key), std::move(value));
    } else {
      ASSIGN_OR_RETURN(ExprPtr value, ParseExpr());
      args.push_back(std::move(value));
    }
    if (!IsOp(",")) break;
    Take();
  }
  return Expect(TK::kOp, ")", "')'");
}

absl::StatusOr<ExprPtr> Parser::ParseSubscript(ExprPtr node, int line) {
  std::vector<ExprPtr> parts(3);
  bool is_slice = false;
  for (int part = 0; part < 3; ++part) {
    if (!IsOp(":") && !IsOp("]")) {
      ASSIGN_OR_RETURN(parts[part], ParseExpr());
    }
    if (!IsOp(":")) break;
    Take();
    is_slice = true;
  }
  RETURN_IF_ERROR(Expect(TK::kOp, "]", "']'"));
  if (!is_slice) {
    if (parts[0] == nullptr) return Error("empty subscript");
    return MakeExpr(Expr::Kind::kIndex, line, "", {node, parts[0]});
  }
  return MakeExpr(Expr::Kind::kSlice, line, "", {node, parts[0], parts[1], parts[2]});
}

absl::StatusOr<ExprPtr> Parser::ParsePostfix(ExprPtr node) {
  while (true) {
    RETURN_IF_ERROR(CheckDepth(node));
    const int line = Peek().line;
    if (IsOp(".")) {
      Take();
      ASSIGN_OR_RETURN(std::string attr, ExpectName());
      node = MakeExpr(Expr::Kind::kAttr, line, attr, {node});
    } else if (IsOp("[")) {
      Take();
      ASSIGN_OR_RETURN(node, ParseSubscript(node, line));
    } else if (IsOp("(")) {
      auto call = std::make_shared<Expr>();
      call->kind = Expr::Kind::kCall;
      call->line = line;
      call->args.push_back(node);
      RETURN_IF_ERROR(ParseArgs(call->args, call->kwargs));
      SetDepth(*call);
      node = call;
    } else if (IsOp("|")) {
      Take();
      auto filter = std::make_shared<Expr>();
      filter->kind = Expr::Kind::kFilter;
      filter->line = line;
      ASSIGN_OR_RETURN(filter->name, ExpectName());
      filter->args.push_back(node);
      if (IsOp("(")) RETURN_IF_ERROR(ParseArgs(filter->args, filter->kwargs));
      SetDepth(*filter);
      node = filter;
    } else if (IsName("is")) {
      Take();
      auto test = std::make_shared<Expr>();
      test->kind = Expr::Kind::kTest;
      test->line = line;
      if (IsName("not")) {
        Take();
        test->negated = true;
      }
      ASSIGN_OR_RETURN(test->name, ExpectName());
      test->args.push_back(node);
      if (IsOp("(")) {
        RETURN_IF_ERROR(ParseArgs(test->args, test->kwargs));
      } else if (Peek().kind == TK::kString || Peek().kind == TK::kInt ||
                 Peek().kind == TK::kFloat ||
                 (Peek().kind == TK::kName && !IsName("and") && !IsName("or") && !IsName("else") &&
                  !IsName("if") && !IsName("in") && !IsName("not") && !IsName("is"))) {
        ASSIGN_OR_RETURN(ExprPtr arg, ParsePrimary());
        test->args.push_back(std::move(arg));
      }
      SetDepth(*test);
      node = test;
    } else {
      return node;
    }
  }
}

absl::StatusOr<ExprPtr> Parser::ParsePrimary() {
  const Token& t = Peek();
  const int line = t.line;
  switch (t.kind) {
    case TK::kString: {
      std::string text;
      while (Peek().kind == TK::kString) text += Take().text;  // adjacent literals concatenate
      return MakeLiteral(Value(std::move(text)), line);
    }
    case TK::kInt:
    case TK::kFloat: {
      const std::string text = Take().text;
      if (t.kind == TK::kFloat) return MakeLiteral(Value(std::strtod(text.c_str(), nullptr)), line);
      int64_t value = 0;
      const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
      if (result.ec != std::errc())
        return Error(absl::StrCat("integer literal out of range: ", text));
      return MakeLiteral(Value(value), line);
    }
    case TK::kName: {
      const std::string name = Take().text;
      if (name == "true" || name == "True") return MakeLiteral(Value(true), line);
      if (name == "false" || name == "False") return MakeLiteral(Value(false), line);
      if (name == "none" || name == "None") return MakeLiteral(Value::None(), line);
      return MakeExpr(Expr::Kind::kName, line, name, {});
    }
    case TK::kOp:
      break;
    default:
      return Error(absl::StrCat("unexpected '", t.text, "' in expression"));
  }
  if (IsOp("(")) {
    Take();
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (!IsOp(")")) {
      ASSIGN_OR_RETURN(ExprPtr item, ParseExpr());
      items.push_back(std::move(item));
      if (!IsOp(",")) break;
      Take();
      is_tuple = true;
    }
    RETURN_IF_ERROR(Expect(TK::kOp, ")", "')'"));
    if (!is_tuple && items.size() == 1) return items[0];
    return MakeExpr(Expr::Kind::kTuple, line, "", std::move(items));
  }
  if (IsOp("[") || IsOp("{")) {
    const bool is_list = IsOp("[");
    Take();
    std::vector<ExprPtr> items;
    while (!IsOp(is_list ? "]" : "}")) {
      ASSIGN_OR_RETURN(ExprPtr item, ParseExpr());
      items.push_back(std::move(item));
      if (!is_list) {
        RETURN_IF_ERROR(Expect(TK::kOp, ":", "':'"));
        ASSIGN_OR_RETURN(ExprPtr value, ParseExpr());
        items.push_back(std::move(value));
      }
      if (!IsOp(",")) break;
      Take();
    }
    RETURN_IF_ERROR(Expect(TK::kOp, is_list ? "]" : "}", is_list ? "']'" : "'}'"));
    return MakeExpr(is_list ? Expr::Kind::kList : Expr::Kind::kDict, line, "", std::move(items));
  }
  return Error(absl::StrCat("unexpected '", t.text, "' in expression"));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const TemplateNode>> ParseTemplate(std::vector<Token> tokens) {
  return Parser(std::move(tokens)).Run();
}

}  // namespace junction::jinja
