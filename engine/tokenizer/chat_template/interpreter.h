// Walks a parsed template (ast.h) and renders it. One Interpreter per render call.
#pragma once

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "engine/tokenizer/chat_template/ast.h"
#include "engine/tokenizer/chat_template/value.h"

namespace junction::jinja {

// Variables visible to a block; lookups walk to the parent. `for` bodies and macros get a child
// scope; `if` does not (Jinja's scoping: a `set` inside a loop is invisible after it).
class Scope {
 public:
  explicit Scope(std::shared_ptr<Scope> parent) : parent_(std::move(parent)) {}
  const Value* Lookup(const std::string& name) const;
  void Set(const std::string& name, Value value) { vars_[name] = std::move(value); }

 private:
  std::shared_ptr<Scope> parent_;
  absl::flat_hash_map<std::string, Value> vars_;
};

class Interpreter {
 public:
  // Renders `root` with `globals` (plus the built-in functions) into a string. Errors carry
  // "line N: ".
  absl::StatusOr<std::string> Render(const TemplateNode& root, std::shared_ptr<Scope> globals);

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  absl::Status Exec(const Body& body, const std::shared_ptr<Scope>& scope, std::string& out);
  absl::Status ExecStmt(const Stmt& stmt, const std::shared_ptr<Scope>& scope, std::string& out);
  absl::Status ExecFor(const Stmt& stmt, const std::shared_ptr<Scope>& scope, std::string& out);
  absl::Status ExecSet(const Stmt& stmt, const std::shared_ptr<Scope>& scope);
  Value MakeMacro(const Stmt& stmt, const std::shared_ptr<Scope>& scope);

  absl::StatusOr<Value> Eval(const Expr& expr, const std::shared_ptr<Scope>& scope);
  absl::StatusOr<Value> EvalBinary(const Expr& expr, const std::shared_ptr<Scope>& scope);
  absl::StatusOr<Value> EvalCall(const Expr& expr, const std::shared_ptr<Scope>& scope);
  absl::Status EvalArgs(const Expr& expr, size_t first, const std::shared_ptr<Scope>& scope,
                        std::vector<Value>& args, KeywordArgs& kwargs);

  Flow flow_ = Flow::kNormal;
  int depth_ = 0;  // macro call depth, bounded to stop runaway recursion
};

// Binary operators shared with filters: op is one of + - * / // % ** ~ == != < > <= >= in.
absl::StatusOr<Value> ApplyBinaryOp(const std::string& op, const Value& left, const Value& right);

// Built-ins (builtins.cc). Errors have no line prefix; the interpreter adds it.
absl::StatusOr<Value> ApplyFilter(const std::string& name, const Value& input,
                                  std::vector<Value>& args, KeywordArgs& kwargs);
absl::StatusOr<bool> ApplyTest(const std::string& name, const Value& value,
                               std::vector<Value>& args);
// NotFound when `object` has no method `name` (the caller then tries an attribute).
absl::StatusOr<Value> CallMethod(const Value& object, const std::string& name,
                                 std::vector<Value>& args, KeywordArgs& kwargs);
// raise_exception, namespace, range, dict, strftime_now.
void AddGlobalFunctions(Scope& scope);
// Python-style slicing of lists and strings (by code point).
absl::StatusOr<Value> Slice(const Value& value, const Value& start, const Value& stop,
                            const Value& step);

}  // namespace junction::jinja
