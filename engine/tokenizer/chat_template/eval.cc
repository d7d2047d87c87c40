// Expression evaluation of the chat-template interpreter.
#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "engine/tokenizer/chat_template/interpreter.h"
#include "engine/tokenizer/utf8.h"

namespace junction::jinja {
namespace {

absl::StatusOr<Value> Index(const Value& container, const Value& key) {
  if (container.is_object()) {
    if (!key.is_string()) return Value();
    const Value* found = container.as_object().Find(key.as_string());
    return found != nullptr ? *found : Value();
  }
  if (container.is_array() || container.is_string()) {
    if (!key.is_int()) {
      return absl::InvalidArgumentError(
          absl::StrCat("a ", container.TypeName(), " index must be an integer"));
    }
    if (container.is_array()) {
      const int64_t n = static_cast<int64_t>(container.as_array().size());
      int64_t i = key.as_int();
      if (i < 0) i += n;
      return i >= 0 && i < n ? container.as_array()[i] : Value();
    }
    const std::vector<char32_t> cps = utf8::Decode(container.as_string());
    const int64_t n = static_cast<int64_t>(cps.size());
    int64_t i = key.as_int();
    if (i < 0) i += n;
    return i >= 0 && i < n ? Value(utf8::Encode({cps[i]})) : Value();
  }
  if (container.is_undefined() || container.is_none()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot index a ", container.TypeName(), " value"));
  }
  return Value();
}

absl::StatusOr<Value> ApplyUnary(const std::string& op, const Value& operand) {
  if (op == "not") return Value(!operand.Truthy());
  if (!operand.is_number()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad operand type for unary ", op, ": ", operand.TypeName()));
  }
  if (op == "+") return operand;
  return operand.is_int() ? Value(-operand.as_int()) : Value(-operand.as_number());
}

}  // namespace

absl::Status Interpreter::EvalArgs(const Expr& expr, size_t first,
                                   const std::shared_ptr<Scope>& scope, std::vector<Value>& args,
                                   KeywordArgs& kwargs) {
  for (size_t i = first; i < expr.args.size(); ++i) {
    ASSIGN_OR_RETURN(Value v, Eval(*expr.args[i], scope));
    args.push_back(std::move(v));
  }
  for (const auto& [key, value_expr] : expr.kwargs) {
    ASSIGN_OR_RETURN(Value v, Eval(*value_expr, scope));
    kwargs.emplace_back(key, std::move(v));
  }
  return absl::OkStatus();
}

absl::StatusOr<Value> Interpreter::Eval(const Expr& expr, const std::shared_ptr<Scope>& scope) {
  switch (expr.kind) {
    case Expr::Kind::kLiteral:
      return expr.literal;
    case Expr::Kind::kName: {
      const Value* v = scope->Lookup(expr.name);
      return v != nullptr ? *v : Value();
    }
    case Expr::Kind::kList:
    case Expr::Kind::kTuple: {
      Array items;
      for (const ExprPtr& item : expr.args) {
        ASSIGN_OR_RETURN(Value v, Eval(*item, scope));
        items.push_back(std::move(v));
      }
      return Value(std::move(items));
    }
    case Expr::Kind::kDict: {
      auto object = std::make_shared<Object>();
      for (size_t i = 0; i + 1 < expr.args.size(); i += 2) {
        ASSIGN_OR_RETURN(Value key, Eval(*expr.args[i], scope));
        ASSIGN_OR_RETURN(Value value, Eval(*expr.args[i + 1], scope));
        if (!key.is_string()) return absl::InvalidArgumentError("dict keys must be strings");
        object->Set(key.as_string(), std::move(value));
      }
      return Value(std::move(object));
    }
    case Expr::Kind::kAttr: {
      ASSIGN_OR_RETURN(Value object, Eval(*expr.args[0], scope));
      if (object.is_undefined() || object.is_none()) {
        return absl::InvalidArgumentError(absl::StrCat("cannot read attribute '", expr.name,
                                                       "' of a ", object.TypeName(), " value"));
      }
      return Index(object, Value(expr.name));
    }
    case Expr::Kind::kIndex: {
      ASSIGN_OR_RETURN(Value container, Eval(*expr.args[0], scope));
      ASSIGN_OR_RETURN(Value key, Eval(*expr.args[1], scope));
      return Index(container, key);
    }
    case Expr::Kind::kSlice: {
      ASSIGN_OR_RETURN(Value container, Eval(*expr.args[0], scope));
      Value parts[3];
      for (int i = 0; i < 3; ++i) {
        if (expr.args[i + 1] != nullptr) {
          ASSIGN_OR_RETURN(parts[i], Eval(*expr.args[i + 1], scope));
        }
      }
      return Slice(container, parts[0], parts[1], parts[2]);
    }
    case Expr::Kind::kCall:
      return EvalCall(expr, scope);
    case Expr::Kind::kFilter: {
      ASSIGN_OR_RETURN(Value input, Eval(*expr.args[0], scope));
      std::vector<Value> args;
      KeywordArgs kwargs;
      RETURN_IF_ERROR(EvalArgs(expr, 1, scope, args, kwargs));
      return ApplyFilter(expr.name, input, args, kwargs);
    }
    case Expr::Kind::kTest: {
      ASSIGN_OR_RETURN(Value input, Eval(*expr.args[0], scope));
      std::vector<Value> args;
      KeywordArgs kwargs;
      RETURN_IF_ERROR(EvalArgs(expr, 1, scope, args, kwargs));
      ASSIGN_OR_RETURN(bool result, ApplyTest(expr.name, input, args));
      return Value(result != expr.negated);
    }
    case Expr::Kind::kUnary: {
      ASSIGN_OR_RETURN(Value operand, Eval(*expr.args[0], scope));
      return ApplyUnary(expr.name, operand);
    }
    case Expr::Kind::kBinary:
      return EvalBinary(expr, scope);
    case Expr::Kind::kTernary: {
      ASSIGN_OR_RETURN(Value condition, Eval(*expr.args[1], scope));
      if (condition.Truthy()) return Eval(*expr.args[0], scope);
      if (expr.args[2] == nullptr) return Value();
      return Eval(*expr.args[2], scope);
    }
  }
  return Value();
}

absl::StatusOr<Value> Interpreter::EvalBinary(const Expr& expr,
                                              const std::shared_ptr<Scope>& scope) {
  ASSIGN_OR_RETURN(Value left, Eval(*expr.args[0], scope));
  // Python semantics: and/or short-circuit and yield an operand, not a boolean.
  if (expr.name == "and") return left.Truthy() ? Eval(*expr.args[1], scope) : left;
  if (expr.name == "or") return left.Truthy() ? left : Eval(*expr.args[1], scope);
  ASSIGN_OR_RETURN(Value right, Eval(*expr.args[1], scope));
  if (expr.name == "not in") {
    ASSIGN_OR_RETURN(Value in, ApplyBinaryOp("in", left, right));
    return Value(!in.as_bool());
  }
  return ApplyBinaryOp(expr.name, left, right);
}

absl::StatusOr<Value> Interpreter::EvalCall(const Expr& expr, const std::shared_ptr<Scope>& scope) {
  std::vector<Value> args;
  KeywordArgs kwargs;
  const Expr& callee = *expr.args[0];
  if (callee.kind == Expr::Kind::kAttr) {
    ASSIGN_OR_RETURN(Value object, Eval(*callee.args[0], scope));
    RETURN_IF_ERROR(EvalArgs(expr, 1, scope, args, kwargs));
    absl::StatusOr<Value> result = CallMethod(object, callee.name, args, kwargs);
    if (!absl::IsNotFound(result.status())) return result;
    ASSIGN_OR_RETURN(Value function, Index(object, Value(callee.name)));
    if (!function.is_function()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unsupported method '", callee.name, "' on a ", object.TypeName()));
    }
    return function.Call(args, kwargs);
  }
  ASSIGN_OR_RETURN(Value function, Eval(callee, scope));
  RETURN_IF_ERROR(EvalArgs(expr, 1, scope, args, kwargs));
  if (!function.is_function()) {
    const std::string name = callee.kind == Expr::Kind::kName ? callee.name : "expression";
    return absl::InvalidArgumentError(
        absl::StrCat("'", name, "' is not a function (unsupported or undefined)"));
  }
  return function.Call(args, kwargs);
}

}  // namespace junction::jinja
