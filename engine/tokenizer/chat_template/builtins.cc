// Filters, tests, methods and global functions of the chat-template interpreter.
#include <algorithm>
#include <cstdlib>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/common/status_macros.h"
#include "engine/tokenizer/chat_template/interpreter.h"
#include "engine/tokenizer/utf8.h"

namespace junction::jinja {
namespace {

absl::Status Unsupported(const std::string& what, const std::string& name) {
  return absl::InvalidArgumentError(absl::StrCat("unsupported ", what, " '", name, "'"));
}

bool IsWhitespace(char32_t cp) {
  return cp == 0x09 || cp == 0x0A || cp == 0x0B || cp == 0x0C || cp == 0x0D || cp == 0x20 ||
         cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000 ||
         cp == 0xFEFF;
}

// Python's str.strip / lstrip / rstrip: whitespace, or any code point of `chars`.
std::string Strip(const std::string& text, const Value* chars, bool left, bool right) {
  std::vector<char32_t> cps = utf8::Decode(text);
  std::vector<char32_t> set;
  if (chars != nullptr && chars->is_string()) set = utf8::Decode(chars->as_string());
  const bool use_set = chars != nullptr && chars->is_string();
  const auto strip = [&](char32_t cp) {
    return use_set ? std::find(set.begin(), set.end(), cp) != set.end() : IsWhitespace(cp);
  };
  size_t begin = 0, end = cps.size();
  if (left) {
    while (begin < end && strip(cps[begin])) ++begin;
  }
  if (right) {
    while (end > begin && strip(cps[end - 1])) --end;
  }
  return utf8::Encode(std::vector<char32_t>(cps.begin() + begin, cps.begin() + end));
}

std::string MapAscii(std::string s, bool upper) {
  for (char& c : s) {
    if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::string Capitalize(const std::string& s) {
  std::string out = MapAscii(s, false);
  if (!out.empty()) out[0] = MapAscii(out.substr(0, 1), true)[0];
  return out;
}

std::string Title(const std::string& s) {
  std::string out;
  bool start = true;
  for (char c : s) {
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    out += alpha ? MapAscii(std::string(1, c), start)[0] : c;
    start = !alpha;
  }
  return out;
}

// Python's str.split: no separator (or None) splits on whitespace runs; any other separator must
// be a non-empty string.
absl::StatusOr<std::vector<std::string>> Split(const std::string& text, const Value* sep,
                                               int64_t max_split) {
  std::vector<std::string> parts;
  if (sep == nullptr || sep->is_none() || sep->is_undefined()) {
    size_t i = 0;
    while (i < text.size()) {
      while (i < text.size() && IsWhitespace(static_cast<unsigned char>(text[i]))) ++i;
      if (i >= text.size()) break;
      if (max_split >= 0 && static_cast<int64_t>(parts.size()) == max_split) {
        parts.push_back(text.substr(i));
        return parts;
      }
      size_t j = i;
      while (j < text.size() && !IsWhitespace(static_cast<unsigned char>(text[j]))) ++j;
      parts.push_back(text.substr(i, j - i));
      i = j;
    }
    return parts;
  }
  if (!sep->is_string()) return absl::InvalidArgumentError("split: separator must be a string");
  const std::string& s = sep->as_string();
  if (s.empty()) return absl::InvalidArgumentError("split: empty separator");
  size_t prev = 0, pos;
  while ((pos = text.find(s, prev)) != std::string::npos &&
         (max_split < 0 || static_cast<int64_t>(parts.size()) < max_split)) {
    parts.push_back(text.substr(prev, pos - prev));
    prev = pos + s.size();
  }
  parts.push_back(text.substr(prev));
  return parts;
}

std::string Replace(const std::string& text, const std::string& from, const std::string& to,
                    int64_t count) {
  if (from.empty()) return text;
  std::string out;
  size_t prev = 0, pos;
  int64_t n = 0;
  while ((count < 0 || n < count) && (pos = text.find(from, prev)) != std::string::npos) {
    out += text.substr(prev, pos - prev) + to;
    prev = pos + from.size();
    ++n;
  }
  return out + text.substr(prev);
}

const Value* Arg(std::vector<Value>& args, KeywordArgs& kwargs, size_t index, const char* name) {
  for (auto& [key, value] : kwargs) {
    if (key == name) return &value;
  }
  return index < args.size() ? &args[index] : nullptr;
}

absl::StatusOr<std::string> StringArg(std::vector<Value>& args, KeywordArgs& kwargs, size_t i,
                                      const char* name) {
  const Value* v = Arg(args, kwargs, i, name);
  if (v == nullptr || !v->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat("argument '", name, "' must be a string"));
  }
  return v->as_string();
}

Value ItemsOf(const Value& object) {
  Array items;
  for (const auto& [key, value] : object.as_object().items) {
    items.push_back(Value(Array{Value(key), value}));
  }
  return Value(std::move(items));
}

absl::StatusOr<int64_t> Length(const Value& v) {
  if (v.is_string()) return static_cast<int64_t>(utf8::Decode(v.as_string()).size());
  if (v.is_array()) return static_cast<int64_t>(v.as_array().size());
  if (v.is_object()) return static_cast<int64_t>(v.as_object().items.size());
  if (v.is_undefined()) return 0;
  return absl::InvalidArgumentError(absl::StrCat("a ", v.TypeName(), " has no length"));
}

absl::StatusOr<Value> StringMethod(const std::string& s, const std::string& name,
                                   std::vector<Value>& args, KeywordArgs& kwargs) {
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const Value* chars = Arg(args, kwargs, 0, "chars");
    return Value(Strip(s, chars, name != "rstrip", name != "lstrip"));
  }
  if (name == "upper") return Value(MapAscii(s, true));
  if (name == "lower") return Value(MapAscii(s, false));
  if (name == "title") return Value(Title(s));
  if (name == "capitalize") return Value(Capitalize(s));
  if (name == "startswith" || name == "endswith") {
    const Value* prefix = Arg(args, kwargs, 0, "prefix");
    std::vector<std::string> options;
    if (prefix != nullptr && prefix->is_string()) options.push_back(prefix->as_string());
    if (prefix != nullptr && prefix->is_array()) {
      for (const Value& v : prefix->as_array()) {
        if (v.is_string()) options.push_back(v.as_string());
      }
    }
    if (options.empty()) return absl::InvalidArgumentError(name + " needs a string argument");
    for (const std::string& o : options) {
      const bool hit = name == "startswith" ? s.compare(0, o.size(), o) == 0
                                            : s.size() >= o.size() &&
                                                  s.compare(s.size() - o.size(), o.size(), o) == 0;
      if (hit) return Value(true);
    }
    return Value(false);
  }
  if (name == "split" || name == "rsplit") {
    const Value* max_split = Arg(args, kwargs, 1, "maxsplit");
    ASSIGN_OR_RETURN(
        std::vector<std::string> pieces,
        Split(s, Arg(args, kwargs, 0, "sep"),
              max_split != nullptr && max_split->is_int() && name == "split" ? max_split->as_int()
                                                                             : -1));
    Array parts;
    for (std::string& part : pieces) parts.push_back(Value(std::move(part)));
    return Value(std::move(parts));
  }
  if (name == "replace") {
    ASSIGN_OR_RETURN(std::string from, StringArg(args, kwargs, 0, "old"));
    ASSIGN_OR_RETURN(std::string to, StringArg(args, kwargs, 1, "new"));
    const Value* count = Arg(args, kwargs, 2, "count");
    return Value(Replace(s, from, to, count != nullptr && count->is_int() ? count->as_int() : -1));
  }
  if (name == "find" || name == "count") {
    ASSIGN_OR_RETURN(std::string needle, StringArg(args, kwargs, 0, "sub"));
    if (name == "find") {
      const size_t pos = s.find(needle);
      return Value(pos == std::string::npos ? int64_t{-1} : static_cast<int64_t>(pos));
    }
    int64_t n = 0;
    for (size_t pos = s.find(needle); !needle.empty() && pos != std::string::npos;
         pos = s.find(needle, pos + needle.size())) {
      ++n;
    }
    return Value(n);
  }
  if (name == "join") {
    const Value* items = Arg(args, kwargs, 0, "iterable");
    if (items == nullptr || !items->is_array())
      return absl::InvalidArgumentError("join needs a list");
    std::vector<std::string> parts;
    for (const Value& v : items->as_array()) parts.push_back(v.ToString());
    return Value(absl::StrJoin(parts, s));
  }
  return absl::NotFoundError(name);
}

absl::StatusOr<Value> ObjectMethod(const Value& object, const std::string& name,
                                   std::vector<Value>& args, KeywordArgs& kwargs) {
  if (name == "items") return ItemsOf(object);
  if (name == "keys" || name == "values") {
    Array out;
    for (const auto& [key, value] : object.as_object().items) {
      out.push_back(name == "keys" ? Value(key) : value);
    }
    return Value(std::move(out));
  }
  if (name == "get") {
    ASSIGN_OR_RETURN(std::string key, StringArg(args, kwargs, 0, "key"));
    const Value* found = object.as_object().Find(key);
    if (found != nullptr) return *found;
    const Value* fallback = Arg(args, kwargs, 1, "default");
    return fallback != nullptr ? *fallback : Value::None();
  }
  return absl::NotFoundError(name);
}

}  // namespace

absl::StatusOr<Value> CallMethod(const Value& object, const std::string& name,
                                 std::vector<Value>& args, KeywordArgs& kwargs) {
  if (object.is_string()) return StringMethod(object.as_string(), name, args, kwargs);
  if (object.is_object() && !object.as_object().is_namespace) {
    return ObjectMethod(object, name, args, kwargs);
  }
  if (object.is_array() && name == "append") {
    if (args.size() != 1) return absl::InvalidArgumentError("append takes one argument");
    if (args[0].Reaches(object)) {
      return absl::InvalidArgumentError("cannot append a list to itself or to a list it holds");
    }
    object.as_array().push_back(args[0]);
    return Value::None();
  }
  return absl::NotFoundError(name);
}

namespace {

absl::StatusOr<Value> Attribute(const Value& item, const std::string& path) {
  // "a.b" walks nested dicts, as Jinja's attribute= arguments do.
  Value current = item;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t dot = path.find('.', start);
    const std::string key =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!current.is_object()) return Value();
    const Value* next = current.as_object().Find(key);
    current = next != nullptr ? *next : Value();
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return current;
}

absl::StatusOr<Value> SelectFilter(const std::string& name, const Value& input,
                                   std::vector<Value>& args) {
  if (!input.is_array()) return absl::InvalidArgumentError(name + " needs a list");
  const bool by_attr = name == "selectattr" || name == "rejectattr";
  const bool keep_matches = name == "select" || name == "selectattr";
  size_t next = 0;
  std::string attr;
  if (by_attr) {
    if (args.empty() || !args[0].is_string()) {
      return absl::InvalidArgumentError(name + " needs an attribute name");
    }
    attr = args[next++].as_string();
  }
  std::string test;
  if (next < args.size()) {
    if (!args[next].is_string()) return absl::InvalidArgumentError(name + ": test must be a name");
    test = args[next++].as_string();
  }
  std::vector<Value> test_args(args.begin() + next, args.end());
  Array out;
  for (const Value& item : input.as_array()) {
    Value subject = item;
    if (by_attr) {
      ASSIGN_OR_RETURN(subject, Attribute(item, attr));
    }
    bool matched;
    if (test.empty()) {
      matched = subject.Truthy();
    } else {
      ASSIGN_OR_RETURN(matched, ApplyTest(test, subject, test_args));
    }
    if (matched == keep_matches) out.push_back(item);
  }
  return Value(std::move(out));
}

absl::StatusOr<Value> MapFilter(const Value& input, std::vector<Value>& args, KeywordArgs& kwargs) {
  if (!input.is_array()) return absl::InvalidArgumentError("map needs a list");
  Array out;
  const Value* attribute = Arg(args, kwargs, 99, "attribute");
  for (const Value& item : input.as_array()) {
    if (attribute != nullptr && attribute->is_string()) {
      ASSIGN_OR_RETURN(Value v, Attribute(item, attribute->as_string()));
      out.push_back(std::move(v));
    } else if (!args.empty() && args[0].is_string()) {
      std::vector<Value> rest(args.begin() + 1, args.end());
      KeywordArgs no_kwargs;
      ASSIGN_OR_RETURN(Value v, ApplyFilter(args[0].as_string(), item, rest, no_kwargs));
      out.push_back(std::move(v));
    } else {
      return absl::InvalidArgumentError("map needs a filter name or attribute=");
    }
  }
  return Value(std::move(out));
}

absl::StatusOr<Value> StringFilter(const std::string& name, const std::string& s,
                                   std::vector<Value>& args, KeywordArgs& kwargs) {
  if (name == "trim") return Value(Strip(s, Arg(args, kwargs, 0, "chars"), true, true));
  if (name == "upper" || name == "lower" || name == "capitalize" || name == "title") {
    return StringMethod(s, name, args, kwargs);
  }
  if (name == "replace") return StringMethod(s, "replace", args, kwargs);
  if (name == "indent") {
    const Value* width = Arg(args, kwargs, 0, "width");
    const Value* first = Arg(args, kwargs, 1, "first");
    const std::string pad =
        width != nullptr && width->is_string()
            ? width->as_string()
            : std::string(width != nullptr && width->is_int() ? width->as_int() : 4, ' ');
    std::string out;
    size_t line_start = 0;
    bool first_line = true;
    while (line_start <= s.size()) {
      const size_t nl = s.find('\n', line_start);
      const std::string line =
          s.substr(line_start, nl == std::string::npos ? std::string::npos : nl - line_start);
      const bool indent = first_line ? (first != nullptr && first->Truthy()) : !line.empty();
      out += (indent ? pad : "") + line;
      if (nl == std::string::npos) break;
      out += "\n";
      line_start = nl + 1;
      first_line = false;
    }
    return Value(std::move(out));
  }
  return absl::NotFoundError(name);
}

// Filters over lists (and strings treated as sequences); NotFound for other names.
absl::StatusOr<Value> CollectionFilter(const std::string& name, const Value& input,
                                       std::vector<Value>& args, KeywordArgs& kwargs) {
  if (name == "first" || name == "last") {
    if (input.is_array()) {
      if (input.as_array().empty()) return Value();
      return name == "first" ? input.as_array().front() : input.as_array().back();
    }
    if (input.is_string()) {
      const std::vector<char32_t> cps = utf8::Decode(input.as_string());
      if (cps.empty()) return Value();
      return Value(utf8::Encode({name == "first" ? cps.front() : cps.back()}));
    }
    return absl::InvalidArgumentError(name + " needs a list or string");
  }
  if (name == "list") {
    if (input.is_array()) return input;
    if (input.is_string()) return Slice(input, Value(), Value(), Value());
    if (input.is_object()) return CallMethod(input, "keys", args, kwargs);
    return absl::InvalidArgumentError("list needs a list, string or dict");
  }
  if (name == "reverse") {
    if (!input.is_array() && !input.is_string()) {
      return absl::InvalidArgumentError("reverse needs a list or string");
    }
    return Slice(input, Value(), Value(), Value(int64_t{-1}));
  }
  if (name == "unique") {
    if (!input.is_array()) return absl::InvalidArgumentError("unique needs a list");
    Array out;
    for (const Value& item : input.as_array()) {
      if (std::none_of(out.begin(), out.end(), [&](const Value& v) { return v.Equals(item); })) {
        out.push_back(item);
      }
    }
    return Value(std::move(out));
  }
  return absl::NotFoundError(name);
}

}  // namespace

absl::StatusOr<Value> ApplyFilter(const std::string& name, const Value& input,
                                  std::vector<Value>& args, KeywordArgs& kwargs) {
  if (name == "default" || name == "d") {
    const Value* fallback = Arg(args, kwargs, 0, "default_value");
    const Value* boolean = Arg(args, kwargs, 1, "boolean");
    const bool use_fallback =
        input.is_undefined() || (boolean != nullptr && boolean->Truthy() && !input.Truthy());
    if (!use_fallback) return input;
    return fallback != nullptr ? *fallback : Value(std::string());
  }
  if (name == "tojson") {
    const Value* indent = Arg(args, kwargs, 0, "indent");
    return Value(input.ToJson(indent != nullptr && indent->is_int() ? indent->as_int() : 0));
  }
  if (name == "length" || name == "count") {
    ASSIGN_OR_RETURN(int64_t n, Length(input));
    return Value(n);
  }
  if (name == "string") return Value(input.ToString());
  if (name == "safe" || name == "e" || name == "escape" || name == "forceescape") {
    if (name == "safe") return input;
    return Value(Replace(
        Replace(Replace(Replace(Replace(input.ToString(), "&", "&amp;", -1), "<", "&lt;", -1), ">",
                        "&gt;", -1),
                "\"", "&#34;", -1),
        "'", "&#39;", -1));
  }
  if (name == "items") {
    if (!input.is_object()) return absl::InvalidArgumentError("items needs a dict");
    return ItemsOf(input);
  }
  if (name == "select" || name == "reject" || name == "selectattr" || name == "rejectattr") {
    return SelectFilter(name, input, args);
  }
  if (name == "map") return MapFilter(input, args, kwargs);
  if (name == "join") {
    if (!input.is_array()) return absl::InvalidArgumentError("join needs a list");
    const Value* sep = Arg(args, kwargs, 0, "d");
    const Value* attribute = Arg(args, kwargs, 1, "attribute");
    std::vector<std::string> parts;
    for (const Value& item : input.as_array()) {
      Value v = item;
      if (attribute != nullptr && attribute->is_string()) {
        ASSIGN_OR_RETURN(v, Attribute(item, attribute->as_string()));
      }
      parts.push_back(v.ToString());
    }
    return Value(absl::StrJoin(parts, sep != nullptr ? sep->ToString() : ""));
  }
  absl::StatusOr<Value> collection = CollectionFilter(name, input, args, kwargs);
  if (!absl::IsNotFound(collection.status())) return collection;
  if (name == "int") {
    if (input.is_int()) return input;
    if (input.is_float()) return Value(static_cast<int64_t>(input.as_number()));
    if (input.is_string())
      return Value(static_cast<int64_t>(std::strtoll(input.as_string().c_str(), nullptr, 10)));
    return Value(int64_t{0});
  }
  if (name == "float") {
    if (input.is_number()) return Value(input.as_number());
    if (input.is_string()) return Value(std::strtod(input.as_string().c_str(), nullptr));
    return Value(0.0);
  }
  if (name == "abs") {
    if (input.is_int()) return Value(input.as_int() < 0 ? -input.as_int() : input.as_int());
    if (input.is_float())
      return Value(input.as_number() < 0 ? -input.as_number() : input.as_number());
    return absl::InvalidArgumentError("abs needs a number");
  }
  if (input.is_string()) {
    absl::StatusOr<Value> result = StringFilter(name, input.as_string(), args, kwargs);
    if (!absl::IsNotFound(result.status())) return result;
  }
  return Unsupported("filter", name);
}

absl::StatusOr<Value> Slice(const Value& value, const Value& start, const Value& stop,
                            const Value& step) {
  for (const Value* v : {&start, &stop, &step}) {
    if (!v->is_undefined() && !v->is_none() && !v->is_int()) {
      return absl::InvalidArgumentError("slice indices must be integers");
    }
  }
  const int64_t by = step.is_int() ? step.as_int() : 1;
  if (by == 0) return absl::InvalidArgumentError("slice step cannot be zero");
  std::vector<char32_t> cps;
  if (value.is_string()) {
    cps = utf8::Decode(value.as_string());
  } else if (!value.is_array()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot slice a ", value.TypeName()));
  }
  const int64_t n = value.is_string() ? static_cast<int64_t>(cps.size())
                                      : static_cast<int64_t>(value.as_array().size());
  const auto clamp = [&](const Value& v, int64_t fallback) {
    if (!v.is_int()) return fallback;
    int64_t i = v.as_int();
    if (i < 0) i += n;
    return by > 0 ? std::clamp<int64_t>(i, 0, n) : std::clamp<int64_t>(i, -1, n - 1);
  };
  const int64_t begin = clamp(start, by > 0 ? 0 : n - 1), end = clamp(stop, by > 0 ? n : -1);
  std::vector<int64_t> indices;
  for (int64_t i = begin; by > 0 ? i < end : i > end; i += by) indices.push_back(i);
  if (value.is_string()) {
    std::vector<char32_t> out;
    for (int64_t i : indices) out.push_back(cps[i]);
    return Value(utf8::Encode(out));
  }
  Array out;
  for (int64_t i : indices) out.push_back(value.as_array()[i]);
  return Value(std::move(out));
}

absl::StatusOr<bool> ApplyTest(const std::string& name, const Value& v, std::vector<Value>& args) {
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "mapping") return v.is_object();
  if (name == "sequence") return v.is_array() || v.is_string();
  if (name == "iterable") return v.is_array() || v.is_string() || v.is_object();
  if (name == "callable") return v.is_function();
  if (name == "lower") return v.is_string() && MapAscii(v.as_string(), false) == v.as_string();
  if (name == "upper") return v.is_string() && MapAscii(v.as_string(), true) == v.as_string();
  if (name == "odd" || name == "even") {
    if (!v.is_int()) return absl::InvalidArgumentError(name + " test needs an integer");
    return (v.as_int() % 2 != 0) == (name == "odd");
  }
  if (args.size() == 1) {
    if (name == "equalto" || name == "eq" || name == "==" || name == "sameas") {
      return v.Equals(args[0]);
    }
    if (name == "ne" || name == "!=") return !v.Equals(args[0]);
    if (name == "in") {
      ASSIGN_OR_RETURN(Value in, ApplyBinaryOp("in", v, args[0]));
      return in.as_bool();
    }
    for (const char* op : {"<", ">", "<=", ">="}) {
      static const std::pair<const char*, const char*> kAliases[] = {
          {"lt", "<"}, {"gt", ">"}, {"le", "<="}, {"ge", ">="}};
      for (const auto& [alias, real] : kAliases) {
        if (name == alias && std::string(real) == op) {
          ASSIGN_OR_RETURN(Value r, ApplyBinaryOp(op, v, args[0]));
          return r.as_bool();
        }
      }
    }
    if (name == "divisibleby" && v.is_int() && args[0].is_int() && args[0].as_int() != 0) {
      return v.as_int() % args[0].as_int() == 0;
    }
  }
  return Unsupported("test", name);
}

void AddGlobalFunctions(Scope& scope) {
  scope.Set("raise_exception",
            Value::Function("raise_exception", [](std::vector<Value>& args, KeywordArgs&) {
              return absl::StatusOr<Value>(absl::InvalidArgumentError(absl::StrCat(
                  "raise_exception: ", args.empty() ? std::string() : args[0].ToString())));
            }));
  scope.Set("namespace",
            Value::Function("namespace", [](std::vector<Value>& args, KeywordArgs& kwargs) {
              auto object = std::make_shared<Object>();
              object->is_namespace = true;
              if (!args.empty() && args[0].is_object()) object->items = args[0].as_object().items;
              for (auto& [key, value] : kwargs) object->Set(key, value);
              return absl::StatusOr<Value>(Value(std::move(object)));
            }));
  scope.Set("dict", Value::Function("dict", [](std::vector<Value>&, KeywordArgs& kwargs) {
              auto object = std::make_shared<Object>();
              for (auto& [key, value] : kwargs) object->Set(key, value);
              return absl::StatusOr<Value>(Value(std::move(object)));
            }));
  scope.Set(
      "range",
      Value::Function("range", [](std::vector<Value>& args, KeywordArgs&) -> absl::StatusOr<Value> {
        std::vector<int64_t> bounds;
        for (const Value& v : args) {
          if (!v.is_int()) return absl::InvalidArgumentError("range takes integers");
          bounds.push_back(v.as_int());
        }
        if (bounds.empty() || bounds.size() > 3) {
          return absl::InvalidArgumentError("range takes 1 to 3 arguments");
        }
        const int64_t start = bounds.size() > 1 ? bounds[0] : 0;
        const int64_t stop = bounds.size() > 1 ? bounds[1] : bounds[0];
        const int64_t step = bounds.size() > 2 ? bounds[2] : 1;
        if (step == 0) return absl::InvalidArgumentError("range step cannot be zero");
        Array out;
        for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
          if (out.size() >= 1000000) return absl::InvalidArgumentError("range too large");
          out.push_back(Value(i));
        }
        return Value(std::move(out));
      }));
  scope.Set(
      "strftime_now",
      Value::Function("strftime_now",
                      [](std::vector<Value>& args, KeywordArgs&) -> absl::StatusOr<Value> {
                        if (args.size() != 1 || !args[0].is_string()) {
                          return absl::InvalidArgumentError("strftime_now takes a format string");
                        }
                        const std::time_t now = std::time(nullptr);
                        std::tm tm{};
                        gmtime_r(&now, &tm);
                        char buffer[256];
                        const size_t n =
                            std::strftime(buffer, sizeof(buffer), args[0].as_string().c_str(), &tm);
                        return Value(std::string(buffer, n));
                      }));
}

}  // namespace junction::jinja
