// Runtime values of the chat-template interpreter: Jinja's data model (undefined, none, bool,
// int, float, string, list, dict, namespace, callable). Lists and dicts have reference
// semantics (copies share storage), as in Python. Not thread-safe to mutate; templates only
// mutate values they created during one render.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace junction::jinja {

class Value;
using Array = std::vector<Value>;
using KeywordArgs = std::vector<std::pair<std::string, Value>>;
using NativeFunction =
    std::function<absl::StatusOr<Value>(std::vector<Value>& args, KeywordArgs& kwargs)>;

// Keys keep insertion order (what Python dicts and JavaScript Maps do).
struct Object {
  std::vector<std::pair<std::string, Value>> items;
  bool is_namespace = false;
  const Value* Find(const std::string& key) const;
  void Set(const std::string& key, Value value);
};

class Value {
 public:
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kArray, kObject, kFunction };

  Value() = default;  // undefined
  static Value None();
  explicit Value(bool b);
  explicit Value(int64_t i);
  explicit Value(double d);
  explicit Value(std::string s);
  explicit Value(const char* s) : Value(std::string(s)) {}
  explicit Value(Array a);
  explicit Value(std::shared_ptr<Object> o);
  static Value Function(std::string name, NativeFunction fn);
  static Value FromJson(const nlohmann::ordered_json& json);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  bool is_number() const { return is_int() || is_float(); }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_array() const { return kind_ == Kind::kArray; }
  bool is_object() const { return kind_ == Kind::kObject; }
  bool is_function() const { return kind_ == Kind::kFunction; }

  bool as_bool() const { return bool_; }
  int64_t as_int() const { return int_; }
  double as_number() const { return is_int() ? static_cast<double>(int_) : float_; }
  const std::string& as_string() const { return *string_; }
  Array& as_array() const { return *array_; }
  Object& as_object() const { return *object_; }
  const std::string& function_name() const { return *string_; }
  absl::StatusOr<Value> Call(std::vector<Value>& args, KeywordArgs& kwargs) const;

  // Python truthiness.
  bool Truthy() const;
  // Text as {{ }} prints it: strings raw, numbers like Jinja, lists/dicts in Python repr.
  std::string ToString() const;
  // Python repr (strings quoted), used inside list/dict printing.
  std::string Repr() const;
  // JSON text as the tojson filter writes it (JavaScript JSON.stringify escaping, ", " and
  // ": " separators unless `indent` > 0).
  std::string ToJson(int indent = 0, int depth = 0) const;
  // Kind name for error messages ("string", "list", ...).
  std::string TypeName() const;

  bool Equals(const Value& other) const;
  // Whether `container` (a list or dict) is this value or lies inside it. Storing a value into a
  // container it reaches would make a cycle: printing, comparing or serializing it would never
  // end, and the shared storage would leak.
  bool Reaches(const Value& container) const;

 private:
  Kind kind_ = Kind::kUndefined;
  bool bool_ = false;
  int64_t int_ = 0;
  double float_ = 0;
  std::shared_ptr<const std::string> string_;  // string contents or function name
  std::shared_ptr<Array> array_;
  std::shared_ptr<Object> object_;
  std::shared_ptr<const NativeFunction> function_;
};

}  // namespace junction::jinja
