#include "engine/tokenizer/chat_template/interpreter.h"

#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "engine/tokenizer/utf8.h"

namespace junction::jinja {
namespace {

constexpr int kMaxMacroDepth = 64;

absl::Status AtLine(const absl::Status& status, int line) {
  if (status.ok() || absl::StartsWith(status.message(), "line ")) return status;
  return absl::Status(status.code(), absl::StrCat("line ", line, ": ", status.message()));
}

absl::StatusOr<Value> Arithmetic(const std::string& op, const Value& l, const Value& r) {
  if (!l.is_number() || !r.is_number()) {
    return absl::InvalidArgumentError(absl::StrCat("unsupported operand types for ", op, ": ",
                                                   l.TypeName(), " and ", r.TypeName()));
  }
  const bool ints = l.is_int() && r.is_int();
  const double a = l.as_number(), b = r.as_number();
  if (op == "+") return ints ? Value(l.as_int() + r.as_int()) : Value(a + b);
  if (op == "-") return ints ? Value(l.as_int() - r.as_int()) : Value(a - b);
  if (op == "*") return ints ? Value(l.as_int() * r.as_int()) : Value(a * b);
  if (op == "**") {
    if (ints && r.as_int() >= 0) return Value(static_cast<int64_t>(std::pow(a, b)));
    return Value(std::pow(a, b));
  }
  if (b == 0) return absl::InvalidArgumentError("division by zero");
  if (op == "/") return Value(a / b);
  if (op == "//") {
    if (ints) {
      int64_t q = l.as_int() / r.as_int();
      if ((l.as_int() % r.as_int() != 0) && ((l.as_int() < 0) != (r.as_int() < 0))) --q;
      return Value(q);
    }
    return Value(std::floor(a / b));
  }
  if (ints) {  // Python's modulo takes the divisor's sign
    int64_t m = l.as_int() % r.as_int();
    if (m != 0 && ((m < 0) != (r.as_int() < 0))) m += r.as_int();
    return Value(m);
  }
  return Value(a - b * std::floor(a / b));
}

}  // namespace

const Value* Scope::Lookup(const std::string& name) const {
  for (const Scope* s = this; s != nullptr; s = s->parent_.get()) {
    if (const auto it = s->vars_.find(name); it != s->vars_.end()) return &it->second;
  }
  return nullptr;
}

absl::StatusOr<Value> ApplyBinaryOp(const std::string& op, const Value& l, const Value& r) {
  if (op == "==") return Value(l.Equals(r));
  if (op == "!=") return Value(!l.Equals(r));
  if (op == "~") return Value(l.ToString() + r.ToString());
  if (op == "in") {
    if (r.is_string()) {
      if (!l.is_string()) return absl::InvalidArgumentError("'in <string>' needs a string");
      return Value(r.as_string().find(l.as_string()) != std::string::npos);
    }
    if (r.is_array()) {
      for (const Value& item : r.as_array()) {
        if (item.Equals(l)) return Value(true);
      }
      return Value(false);
    }
    if (r.is_object()) return Value(l.is_string() && r.as_object().Find(l.as_string()) != nullptr);
    if (r.is_undefined() || r.is_none()) return Value(false);
    return absl::InvalidArgumentError(absl::StrCat("'in' on a ", r.TypeName()));
  }
  if (op == "<" || op == ">" || op == "<=" || op == ">=") {
    int cmp;
    if (l.is_number() && r.is_number()) {
      cmp = l.as_number() < r.as_number() ? -1 : l.as_number() > r.as_number() ? 1 : 0;
    } else if (l.is_string() && r.is_string()) {
      cmp = l.as_string().compare(r.as_string());
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot compare ", l.TypeName(), " and ", r.TypeName()));
    }
    if (op == "<") return Value(cmp < 0);
    if (op == ">") return Value(cmp > 0);
    if (op == "<=") return Value(cmp <= 0);
    return Value(cmp >= 0);
  }
  if (op == "+") {
    if (l.is_array() && r.is_array()) {
      Array joined = l.as_array();
      joined.insert(joined.end(), r.as_array().begin(), r.as_array().end());
      return Value(std::move(joined));
    }
    // As in @huggingface/jinja: a string on either side concatenates text.
    if (l.is_string() || r.is_string()) return Value(l.ToString() + r.ToString());
  }
  if (op == "*" && l.is_string() != r.is_string() && (l.is_int() || r.is_int())) {
    const std::string& s = l.is_string() ? l.as_string() : r.as_string();
    const int64_t n = l.is_int() ? l.as_int() : r.as_int();
    std::string out;
    for (int64_t i = 0; i < n && out.size() < (1u << 24); ++i) out += s;
    return Value(std::move(out));
  }
  return Arithmetic(op, l, r);
}

absl::StatusOr<std::string> Interpreter::Render(const TemplateNode& root,
                                                std::shared_ptr<Scope> globals) {
  AddGlobalFunctions(*globals);
  std::string out;
  RETURN_IF_ERROR(Exec(root.body, globals, out));
  return out;
}

absl::Status Interpreter::Exec(const Body& body, const std::shared_ptr<Scope>& scope,
                               std::string& out) {
  for (const StmtPtr& stmt : body) {
    RETURN_IF_ERROR(AtLine(ExecStmt(*stmt, scope, out), stmt->line));
    if (flow_ != Flow::kNormal) return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::Status Interpreter::ExecStmt(const Stmt& stmt, const std::shared_ptr<Scope>& scope,
                                   std::string& out) {
  switch (stmt.kind) {
    case Stmt::Kind::kText:
      out += stmt.text;
      return absl::OkStatus();
    case Stmt::Kind::kOutput: {
      ASSIGN_OR_RETURN(Value value, Eval(*stmt.expr, scope));
      out += value.ToString();
      return absl::OkStatus();
    }
    case Stmt::Kind::kIf:
      for (const auto& [condition, body] : stmt.branches) {
        ASSIGN_OR_RETURN(Value value, Eval(*condition, scope));
        if (value.Truthy()) return Exec(body, scope, out);
      }
      return Exec(stmt.else_body, scope, out);
    case Stmt::Kind::kFor:
      return ExecFor(stmt, scope, out);
    case Stmt::Kind::kSet:
      return ExecSet(stmt, scope);
    case Stmt::Kind::kSetBlock: {
      std::string captured;
      RETURN_IF_ERROR(Exec(stmt.body, scope, captured));
      scope->Set(stmt.targets[0], Value(std::move(captured)));
      return absl::OkStatus();
    }
    case Stmt::Kind::kMacro:
      scope->Set(stmt.text, MakeMacro(stmt, scope));
      return absl::OkStatus();
    case Stmt::Kind::kBreak:
      flow_ = Flow::kBreak;
      return absl::OkStatus();
    case Stmt::Kind::kContinue:
      flow_ = Flow::kContinue;
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::Status Interpreter::ExecFor(const Stmt& stmt, const std::shared_ptr<Scope>& scope,
                                  std::string& out) {
  auto loop_scope = std::make_shared<Scope>(scope);
  ASSIGN_OR_RETURN(Value iterable, Eval(*stmt.expr, loop_scope));
  Array items;
  if (iterable.is_array()) {
    items = iterable.as_array();
  } else if (iterable.is_object()) {
    for (const auto& [key, value] : iterable.as_object().items) items.push_back(Value(key));
  } else if (iterable.is_string()) {
    for (char32_t cp : utf8::Decode(iterable.as_string()))
      items.push_back(Value(utf8::Encode({cp})));
  } else if (!iterable.is_undefined()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot iterate over a ", iterable.TypeName()));
  }
  const auto bind = [&](const Value& item) -> absl::Status {
    if (stmt.targets.size() == 1) {
      loop_scope->Set(stmt.targets[0], item);
      return absl::OkStatus();
    }
    if (!item.is_array() || item.as_array().size() != stmt.targets.size()) {
      return absl::InvalidArgumentError("cannot unpack loop item into the loop variables");
    }
    for (size_t i = 0; i < stmt.targets.size(); ++i) {
      loop_scope->Set(stmt.targets[i], item.as_array()[i]);
    }
    return absl::OkStatus();
  };
  if (stmt.filter != nullptr) {
    Array kept;
    for (const Value& item : items) {
      RETURN_IF_ERROR(bind(item));
      ASSIGN_OR_RETURN(Value keep, Eval(*stmt.filter, loop_scope));
      if (keep.Truthy()) kept.push_back(item);
    }
    items = std::move(kept);
  }
  const int64_t n = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < n; ++i) {
    auto loop = std::make_shared<Object>();
    loop->items = {{"index", Value(i + 1)},
                   {"index0", Value(i)},
                   {"revindex", Value(n - i)},
                   {"revindex0", Value(n - i - 1)},
                   {"first", Value(i == 0)},
                   {"last", Value(i == n - 1)},
                   {"length", Value(n)},
                   {"previtem", i > 0 ? items[i - 1] : Value()},
                   {"nextitem", i + 1 < n ? items[i + 1] : Value()}};
    loop_scope->Set("loop", Value(std::move(loop)));
    RETURN_IF_ERROR(bind(items[i]));
    RETURN_IF_ERROR(Exec(stmt.body, loop_scope, out));
    const Flow flow = flow_;
    flow_ = Flow::kNormal;
    if (flow == Flow::kBreak) break;
  }
  if (n == 0) return Exec(stmt.else_body, scope, out);
  return absl::OkStatus();
}

absl::Status Interpreter::ExecSet(const Stmt& stmt, const std::shared_ptr<Scope>& scope) {
  ASSIGN_OR_RETURN(Value value, Eval(*stmt.expr, scope));
  if (!stmt.attr.empty()) {
    const Value* target = scope->Lookup(stmt.targets[0]);
    if (target == nullptr || !target->is_object() || !target->as_object().is_namespace) {
      return absl::InvalidArgumentError(absl::StrCat("cannot set attribute '", stmt.attr, "' on '",
                                                     stmt.targets[0], "': not a namespace"));
    }
    if (value.Reaches(*target)) {
      return absl::InvalidArgumentError(absl::StrCat("cannot set attribute '", stmt.attr, "' of '",
                                                     stmt.targets[0],
                                                     "' to a value that holds it"));
    }
    target->as_object().Set(stmt.attr, std::move(value));
    return absl::OkStatus();
  }
  if (stmt.targets.size() == 1) {
    scope->Set(stmt.targets[0], std::move(value));
    return absl::OkStatus();
  }
  if (!value.is_array() || value.as_array().size() != stmt.targets.size()) {
    return absl::InvalidArgumentError("cannot unpack value into the set targets");
  }
  for (size_t i = 0; i < stmt.targets.size(); ++i) {
    scope->Set(stmt.targets[i], value.as_array()[i]);
  }
  return absl::OkStatus();
}

Value Interpreter::MakeMacro(const Stmt& stmt, const std::shared_ptr<Scope>& scope) {
  // The macro refers to its defining scope weakly: the scope holds the macro, so a strong
  // reference would be a cycle that leaks the scope (and every value in it) on each render.
  // Values never outlive the render, nor does `this`.
  std::weak_ptr<Scope> weak_scope = scope;
  return Value::Function(
      stmt.text,
      [this, &stmt, weak_scope](std::vector<Value>& args,
                                KeywordArgs& kwargs) -> absl::StatusOr<Value> {
        std::shared_ptr<Scope> scope = weak_scope.lock();
        if (scope == nullptr) {
          return absl::InvalidArgumentError(
              absl::StrCat("macro '", stmt.text, "' called after its scope ended"));
        }
        if (depth_ >= kMaxMacroDepth) {
          return absl::InvalidArgumentError(
              absl::StrCat("macro '", stmt.text, "' recurses too deeply"));
        }
        if (args.size() > stmt.params.size()) {
          return absl::InvalidArgumentError(
              absl::StrCat("macro '", stmt.text, "' takes ", stmt.params.size(), " arguments"));
        }
        auto call_scope = std::make_shared<Scope>(scope);
        for (size_t i = 0; i < stmt.params.size(); ++i) {
          const auto& [name, default_value] = stmt.params[i];
          Value value;
          if (i < args.size()) {
            value = args[i];
          } else if (default_value != nullptr) {
            ASSIGN_OR_RETURN(value, Eval(*default_value, call_scope));
          }
          for (const auto& [key, kwarg] : kwargs) {
            if (key == name) value = kwarg;
          }
          call_scope->Set(name, std::move(value));
        }
        std::string out;
        ++depth_;
        const absl::Status status = Exec(stmt.body, call_scope, out);
        --depth_;
        RETURN_IF_ERROR(status);
        return Value(std::move(out));
      });
}

}  // namespace junction::jinja
