#include "engine/tokenizer/chat_template/value.h"

#include <charconv>
#include <cmath>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace junction::jinja {
namespace {

std::string ShortestDouble(double d) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), d);
  return std::string(buffer, result.ptr);
}

// JavaScript's JSON.stringify escaping for strings.
void AppendJsonString(const std::string& s, std::string& out) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

}  // namespace

const Value* Object::Find(const std::string& key) const {
  for (const auto& [k, v] : items) {
    if (k == key) return &v;
  }
  return nullptr;
}

void Object::Set(const std::string& key, Value value) {
  for (auto& [k, v] : items) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  items.emplace_back(key, std::move(value));
}

Value Value::None() {
  Value v;
  v.kind_ = Kind::kNone;
  return v;
}
Value::Value(bool b) : kind_(Kind::kBool), bool_(b) {}
Value::Value(int64_t i) : kind_(Kind::kInt), int_(i) {}
Value::Value(double d) : kind_(Kind::kFloat), float_(d) {}
Value::Value(std::string s)
    : kind_(Kind::kString), string_(std::make_shared<const std::string>(std::move(s))) {}
Value::Value(Array a) : kind_(Kind::kArray), array_(std::make_shared<Array>(std::move(a))) {}
Value::Value(std::shared_ptr<Object> o) : kind_(Kind::kObject), object_(std::move(o)) {}

Value Value::Function(std::string name, NativeFunction fn) {
  Value v;
  v.kind_ = Kind::kFunction;
  v.string_ = std::make_shared<const std::string>(std::move(name));
  v.function_ = std::make_shared<const NativeFunction>(std::move(fn));
  return v;
}

absl::StatusOr<Value> Value::Call(std::vector<Value>& args, KeywordArgs& kwargs) const {
  if (!is_function()) {
    return absl::InvalidArgumentError(absl::StrCat("a ", TypeName(), " is not callable"));
  }
  return (*function_)(args, kwargs);
}

Value Value::FromJson(const nlohmann::ordered_json& json) {
  switch (json.type()) {
    case nlohmann::ordered_json::value_t::null:
      return None();
    case nlohmann::ordered_json::value_t::boolean:
      return Value(json.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
    case nlohmann::ordered_json::value_t::number_unsigned:
      return Value(json.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_float: {
      // JavaScript has one number type: integral floats behave as integers there.
      const double d = json.get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) {
        return Value(static_cast<int64_t>(d));
      }
      return Value(d);
    }
    case nlohmann::ordered_json::value_t::string:
      return Value(json.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      Array items;
      for (const auto& item : json) items.push_back(FromJson(item));
      return Value(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      auto object = std::make_shared<Object>();
      for (const auto& [key, item] : json.items()) object->items.emplace_back(key, FromJson(item));
      return Value(std::move(object));
    }
    default:
      return Value();
  }
}

bool Value::Truthy() const {
  switch (kind_) {
    case Kind::kUndefined:
    case Kind::kNone:
      return false;
    case Kind::kBool:
      return bool_;
    case Kind::kInt:
      return int_ != 0;
    case Kind::kFloat:
      return float_ != 0;
    case Kind::kString:
      return !string_->empty();
    case Kind::kArray:
      return !array_->empty();
    case Kind::kObject:
      return !object_->items.empty() || object_->is_namespace;
    case Kind::kFunction:
      return true;
  }
  return false;
}

std::string Value::ToString() const {
  switch (kind_) {
    case Kind::kUndefined:
      return "";
    case Kind::kString:
      return *string_;
    case Kind::kInt:
      return absl::StrCat(int_);
    case Kind::kFloat:
      if (float_ == std::floor(float_) && std::fabs(float_) < 1e16) {
        return absl::StrFormat("%.1f", float_);
      }
      return ShortestDouble(float_);
    default:
      return Repr();
  }
}

std::string Value::Repr() const {
  switch (kind_) {
    case Kind::kUndefined:
      return "";
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return bool_ ? "True" : "False";
    case Kind::kInt:
    case Kind::kFloat:
      return ToString();
    case Kind::kString: {
      std::string out = "'";
      for (char c : *string_) {
        if (c == '\'' || c == '\\') out.push_back('\\');
        if (c == '\n') {
          out += "\\n";
          continue;
        }
        out.push_back(c);
      }
      return out + "'";
    }
    case Kind::kArray: {
      std::string out = "[";
      for (size_t i = 0; i < array_->size(); ++i) {
        if (i > 0) out += ", ";
        out += (*array_)[i].Repr();
      }
      return out + "]";
    }
    case Kind::kObject: {
      std::string out = "{";
      for (size_t i = 0; i < object_->items.size(); ++i) {
        if (i > 0) out += ", ";
        out += Value(object_->items[i].first).Repr() + ": " + object_->items[i].second.Repr();
      }
      return out + "}";
    }
    case Kind::kFunction:
      return "<function " + *string_ + ">";
  }
  return "";
}

std::string Value::ToJson(int indent, int depth) const {
  std::string out;
  switch (kind_) {
    case Kind::kUndefined:
    case Kind::kNone:
    case Kind::kFunction:
      return "null";
    case Kind::kBool:
      return bool_ ? "true" : "false";
    case Kind::kInt:
      return absl::StrCat(int_);
    case Kind::kFloat:
      if (!std::isfinite(float_)) return "null";
      if (float_ == std::floor(float_) && std::fabs(float_) < 1e16) {
        return absl::StrCat(static_cast<int64_t>(float_));
      }
      return ShortestDouble(float_);
    case Kind::kString:
      AppendJsonString(*string_, out);
      return out;
    case Kind::kArray:
    case Kind::kObject:
      break;
  }
  const std::string item_sep = indent > 0 ? "," : ", ";
  // Built with append: GCC 12 warns (-Wrestrict, a false positive) on "\n" + std::string.
  std::string pad, child_pad;
  if (indent > 0) {
    pad.append(1, '\n').append(static_cast<size_t>(indent) * depth, ' ');
    child_pad.append(1, '\n').append(static_cast<size_t>(indent) * (depth + 1), ' ');
  }
  std::vector<std::string> parts;
  if (is_array()) {
    for (const Value& item : *array_) parts.push_back(item.ToJson(indent, depth + 1));
  } else {
    for (const auto& [key, item] : object_->items) {
      std::string part;
      AppendJsonString(key, part);
      part += ": " + item.ToJson(indent, depth + 1);
      parts.push_back(std::move(part));
    }
  }
  const char open = is_array() ? '[' : '{', close = is_array() ? ']' : '}';
  out.push_back(open);
  if (indent > 0 && !parts.empty()) {
    for (size_t i = 0; i < parts.size(); ++i) {
      if (i > 0) out += item_sep;
      out += child_pad + parts[i];
    }
    out += pad;
  } else {
    for (size_t i = 0; i < parts.size(); ++i) {
      if (i > 0) out += item_sep;
      out += parts[i];
    }
  }
  out.push_back(close);
  return out;
}

std::string Value::TypeName() const {
  switch (kind_) {
    case Kind::kUndefined:
      return "undefined";
    case Kind::kNone:
      return "none";
    case Kind::kBool:
      return "boolean";
    case Kind::kInt:
      return "integer";
    case Kind::kFloat:
      return "float";
    case Kind::kString:
      return "string";
    case Kind::kArray:
      return "list";
    case Kind::kObject:
      return object_->is_namespace ? "namespace" : "dict";
    case Kind::kFunction:
      return "function";
  }
  return "?";
}

bool Value::Reaches(const Value& container) const {
  auto storage = [](const Value& v) -> const void* {
    if (v.is_array()) return v.array_.get();
    if (v.is_object()) return v.object_.get();
    return nullptr;
  };
  const void* target = storage(container);
  if (target == nullptr) return false;
  // Iterative, each list or dict visited once: values may be deep, and shared many times over.
  std::vector<const Value*> pending = {this};
  absl::flat_hash_set<const void*> seen;
  while (!pending.empty()) {
    const Value* v = pending.back();
    pending.pop_back();
    const void* at = storage(*v);
    if (at == nullptr || !seen.insert(at).second) continue;
    if (at == target) return true;
    if (v->is_array()) {
      for (const Value& e : *v->array_) pending.push_back(&e);
    } else {
      for (const auto& item : v->object_->items) pending.push_back(&item.second);
    }
  }
  return false;
}

bool Value::Equals(const Value& other) const {
  if (is_number() && other.is_number()) return as_number() == other.as_number();
  if (kind_ != other.kind_) return false;
  switch (kind_) {
    case Kind::kUndefined:
    case Kind::kNone:
      return true;
    case Kind::kBool:
      return bool_ == other.bool_;
    case Kind::kString:
      return *string_ == *other.string_;
    case Kind::kArray: {
      if (array_->size() != other.array_->size()) return false;
      for (size_t i = 0; i < array_->size(); ++i) {
        if (!(*array_)[i].Equals((*other.array_)[i])) return false;
      }
      return true;
    }
    case Kind::kObject: {
      if (object_ == other.object_) return true;
      if (object_->items.size() != other.object_->items.size()) return false;
      for (const auto& [key, item] : object_->items) {
        const Value* theirs = other.object_->Find(key);
        if (theirs == nullptr || !item.Equals(*theirs)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

}  // namespace junction::jinja
