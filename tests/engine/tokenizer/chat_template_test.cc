// Interpreter semantics on small templates (expected strings follow Python Jinja with
// transformers' trim_blocks/lstrip_blocks). Real templates are checked against
// @huggingface/jinja by tests/tokenizer/compare.mjs.
#include "engine/tokenizer/chat_template/chat_template.h"

#include <catch2/catch.hpp>

namespace junction {
namespace {

using OrderedJson = nlohmann::ordered_json;

std::string Render(const std::string& source, OrderedJson variables = OrderedJson::object()) {
  const auto tmpl = ChatTemplate::Parse(source);
  INFO(source);
  REQUIRE(tmpl.ok());
  const auto out = tmpl->RenderWith(variables);
  INFO((out.ok() ? "" : std::string(out.status().message())));
  REQUIRE(out.ok());
  return *out;
}

std::string RenderError(const std::string& source, OrderedJson variables = OrderedJson::object()) {
  const auto tmpl = ChatTemplate::Parse(source);
  if (!tmpl.ok()) return std::string(tmpl.status().message());
  const auto out = tmpl->RenderWith(variables);
  REQUIRE_FALSE(out.ok());
  return std::string(out.status().message());
}

TEST_CASE("Loops expose loop variables, filters and else", "[chat_template]") {
  const OrderedJson vars = {{"xs", {"a", "b", "c"}}};
  CHECK(Render("{% for x in xs %}{{ loop.index }}{{ x }}{{ ',' if not loop.last }}{% endfor %}",
               vars) == "1a,2b,3c");
  CHECK(Render("{% for x in xs %}{{ loop.index0 }}{{ loop.first }}{{ loop.revindex }}|{% endfor %}",
               vars) == "0True3|1False2|2False1|");
  CHECK(Render("{% for x in xs if x != 'b' %}{{ loop.length }}{{ x }}{% endfor %}", vars) ==
        "2a2c");
  CHECK(Render("{% for x in [] %}no{% else %}empty{% endfor %}") == "empty");
  CHECK(Render("{% for x in xs[::-1] %}{{ x }}{% endfor %}", vars) == "cba");
  CHECK(Render("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}") ==
        "a=1;b=2;");
  CHECK(Render("{% for x in xs %}{% if x == 'b' %}{% break %}{% endif %}{{ x }}{% endfor %}",
               vars) == "a");
}

TEST_CASE("Scoping: set in a loop stays in the loop, namespaces carry state", "[chat_template]") {
  CHECK(Render("{% set n = 0 %}{% for i in range(3) %}{% set n = n + i %}{% endfor %}{{ n }}") ==
        "0");
  CHECK(Render("{% set ns = namespace(n=0) %}{% for i in range(4) %}{% set ns.n = ns.n + i %}"
               "{% endfor %}{{ ns.n }}") == "6");
  CHECK(Render("{% if true %}{% set y = 'inner' %}{% endif %}{{ y }}") == "inner");
  CHECK(Render("{% set block %}a{{ 1 + 1 }}b{% endset %}[{{ block }}]") == "[a2b]");
}

TEST_CASE("Conditionals, tests and operators", "[chat_template]") {
  const OrderedJson vars = {{"n", 7}, {"s", "Hello"}, {"none", nullptr}, {"obj", {{"k", 1}}}};
  CHECK(Render("{% if n > 10 %}big{% elif n > 5 %}mid{% else %}small{% endif %}", vars) == "mid");
  CHECK(Render("{{ missing is defined }}{{ n is defined }}{{ none is none }}{{ s is string }}",
               vars) == "FalseTrueTrueTrue");
  CHECK(Render("{{ obj is mapping }}{{ n is odd }}{{ n is divisibleby(7) }}{{ s is not number }}",
               vars) == "TrueTrueTrueTrue");
  CHECK(Render("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 7 / 2 }}") ==
        "3 -4 1 2 1024 3.5");
  CHECK(Render("{{ 'ell' in s }}{{ 'k' in obj }}{{ 3 not in [1, 2] }}", vars) == "TrueTrueTrue");
  CHECK(Render("{{ s ~ n }} {{ s + '!' }} {{ [1] + [2] }}", vars) == "Hello7 Hello! [1, 2]");
  CHECK(Render("{{ none or 'fallback' }} {{ s and 'yes' }}", vars) == "fallback yes");
}

TEST_CASE("String methods and filters", "[chat_template]") {
  const OrderedJson vars = {{"s", "  Hello World  "}, {"t", "a</think>b</think>c"}};
  CHECK(Render("[{{ s.strip() }}][{{ s.lstrip() }}][{{ s.rstrip() }}][{{ s | trim }}]", vars) ==
        "[Hello World][Hello World  ][  Hello World][Hello World]");
  CHECK(Render("{{ t.split('</think>')[-1] }}{{ t.split('</think>') | length }}", vars) == "c3");
  CHECK(Render("{{ 'xxhixx'.strip('x') }} {{ 'a b  c'.split() | join('-') }}") == "hi a-b-c");
  CHECK(Render("{{ 'abc'.upper() }}{{ 'ABC' | lower }}{{ 'hello world' | title }}") ==
        "ABCabcHello World");
  CHECK(Render("{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith(('x', 'c')) }}") == "TrueTrue");
  CHECK(Render("{{ 'a-b-c'.replace('-', '+') }} {{ 'a-b-c' | replace('-', '') }}") == "a+b+c abc");
  CHECK(
      Render("{{ missing | default('d') }}{{ '' | default('e', true) }}{{ 'x' | default('f') }}") ==
      "dex");
  CHECK(Render("{{ [3, 1, 3] | unique | list | length }} {{ [1, 2, 3] | first }}{{ [1, 2, 3] | "
               "last }}") == "2 13");
  CHECK(Render("{{ 'héllo'[1:3] }} {{ 'héllo' | length }}") == "él 5");
  CHECK(Render("{{ 'line1\nline2' | indent(2) }}") == "line1\n  line2");
}

TEST_CASE("tojson writes JSON like @huggingface/jinja", "[chat_template]") {
  const OrderedJson vars = {
      {"tool", {{"name", "f"}, {"args", {1, 2.5, true, nullptr}}, {"text", "q\"\n\u00e9<"}}}};
  CHECK(Render("{{ tool | tojson }}", vars) ==
        "{\"name\": \"f\", \"args\": [1, 2.5, true, null], \"text\": \"q\\\"\\n\u00e9<\"}");
  CHECK(Render("{{ [1, {'a': 2}] | tojson(indent=2) }}") == "[\n  1,\n  {\n    \"a\": 2\n  }\n]");
  CHECK(Render("{{ {'b': 1, 'a': 2} | items | list | length }}") == "2");
}

TEST_CASE("Macros with defaults and keyword arguments", "[chat_template]") {
  CHECK(Render("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}"
               "{{ greet('A') }} {{ greet('B', punct='?') }}") == "Hi A! Hi B?");
  CHECK(Render("{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
               "{{ f(3) }}") == "321");
  CHECK_THAT(RenderError("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"),
             Catch::Contains("recurses too deeply"));
}

TEST_CASE("Long operator and attribute chains are bounded, not a stack overflow",
          "[chat_template]") {
  // Chains are parsed by loops but evaluated recursively; 100 links render, 100,000 are refused.
  auto chain = [](const std::string& first, const std::string& link, int n) {
    std::string s = "{{ " + first;
    for (int i = 0; i < n; ++i) s += link;
    return s + " }}";
  };
  CHECK(Render(chain("'a'", " ~ 'a'", 100)) == std::string(101, 'a'));
  CHECK(Render(chain("1", " + 1", 100)) == "101");
  for (const std::string& link : {" ~ 'a'", " + 1", " and x", " or x", " == x", ".a", "[0]",
                                  "|string", " is defined", "()"})
    CHECK_THAT(RenderError(chain("x", link, 100000)), Catch::Contains("levels deep"));
}

TEST_CASE("A list or namespace cannot be stored inside itself", "[chat_template]") {
  // Such a cycle would print (and compare, and serialize) forever; a fuzzed template printed a
  // namespace holding itself until the stack overflowed.
  CHECK_THAT(RenderError("{% set ns = namespace(n=0) %}{% set ns.n = ns %}{{ ns.n }}"),
             Catch::Contains("holds it"));
  CHECK_THAT(RenderError("{% set ns = namespace(n=0) %}{% set ns.n = [1, [ns]] %}"),
             Catch::Contains("holds it"));
  CHECK_THAT(RenderError("{% set l = [] %}{{ l.append(l) }}"), Catch::Contains("to itself"));
  CHECK_THAT(RenderError("{% set l = [] %}{% set m = [l] %}{{ l.append(m) }}"),
             Catch::Contains("to itself"));
  // Sharing without a cycle is fine.
  CHECK(Render("{% set a = namespace(x=1) %}{% set b = namespace(y=a) %}{% set a.x = 2 %}"
               "{{ b.y.x }}") == "2");
  CHECK(Render("{% set l = [1] %}{% set m = [] %}{{ m.append(l) }}{{ m.append(l) }}{{ m }}") ==
        "NoneNone[[1], [1]]");
}

TEST_CASE("Whitespace control, trim_blocks and lstrip_blocks", "[chat_template]") {
  CHECK(Render("a  {{- 'b' -}}  c") == "abc");
  CHECK(Render("{% if true %}\n    x\n{% endif %}\n") == "    x\n");
  CHECK(Render("  {% if true %}y{% endif %}") == "y");
  CHECK(Render("{# comment #}z{#- trimmed -#}  w") == "zw");
  CHECK(Render("keep final newline?\n") == "keep final newline?");
}

TEST_CASE("raise_exception and runtime errors carry messages and lines", "[chat_template]") {
  CHECK_THAT(RenderError("ok\n{{ raise_exception('Roles must alternate') }}"),
             Catch::Contains("Roles must alternate"));
  CHECK_THAT(RenderError("\n\n{{ undefined_thing.attr }}"), Catch::Contains("line 3"));
  CHECK_THAT(RenderError("{% set x = 1 %}{% set x.y = 2 %}"), Catch::Contains("not a namespace"));
  CHECK_THAT(RenderError("{{ 1 / 0 }}"), Catch::Contains("division by zero"));
  CHECK_THAT(RenderError("{% for x in xs recursive %}{% endfor %}"), Catch::Contains("recursive"));
  CHECK_THAT(RenderError("{{ nope() }}"), Catch::Contains("'nope' is not a function"));
  // Python raises on these too; a non-string separator once dereferenced an empty string.
  CHECK_THAT(RenderError("{{ 'a,b'.split(3) }}"), Catch::Contains("separator must be a string"));
  CHECK_THAT(RenderError("{{ 'a,b'.split('') }}"), Catch::Contains("empty separator"));
  CHECK(Render("{{ 'a,b'.split(None) | length }}") == "1");
}

TEST_CASE("Render binds the chat variables", "[chat_template]") {
  const auto tmpl = ChatTemplate::Parse(
      "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m['content'] }}{{ eos_token }}"
      "{% endfor %}{% if tools %}T{{ tools | length }}{% endif %}"
      "{% if add_generation_prompt %}<assistant>{% endif %}");
  REQUIRE(tmpl.ok());
  const std::vector<ChatMessage> messages = {{"system", "S", nullptr}, {"user", "U", nullptr}};
  const auto out = tmpl->Render(ChatMessagesToJson(messages), true,
                                OrderedJson::array({{{"type", "function"}}}), "<s>", "</s>");
  REQUIRE(out.ok());
  CHECK(*out == "<s><system>S</s><user>U</s>T1<assistant>");
  const auto no_tools = tmpl->Render(nlohmann::json::array(), false, nlohmann::json(), "", "");
  REQUIRE(no_tools.ok());
  CHECK(no_tools->empty());
}

}  // namespace
}  // namespace junction
