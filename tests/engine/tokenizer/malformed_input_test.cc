// Malformed tokenizer.json / tokenizer_config.json / templates give clear errors, never crash.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "engine/tokenizer/chat_template/chat_template.h"
#include "engine/tokenizer/tokenizer.h"

namespace junction {
namespace {

nlohmann::json MinimalTokenizer() {
  return {{"model",
           {{"type", "BPE"},
            {"vocab", {{"a", 0}, {"b", 1}, {"ab", 2}}},
            {"merges", nlohmann::json::array({"a b"})}}},
          {"added_tokens", nlohmann::json::array()}};
}

std::string LoadError(const nlohmann::json& tokenizer, const nlohmann::json& config = nullptr) {
  const auto result = Tokenizer::FromJson(tokenizer, config);
  REQUIRE_FALSE(result.ok());
  return std::string(result.status().message());
}

TEST_CASE("A minimal BPE tokenizer loads and merges", "[tokenizer]") {
  const auto tokenizer = Tokenizer::FromJson(MinimalTokenizer(), nullptr);
  REQUIRE(tokenizer.ok());
  CHECK((*tokenizer)->Encode("abab", false) == std::vector<TokenId>{2, 2});
  CHECK((*tokenizer)->Encode("ba", false) == std::vector<TokenId>{1, 0});
  // No decoder: tokens are joined with spaces (as Hugging Face does).
  CHECK((*tokenizer)->Decode(std::vector<TokenId>{2, 0}, false) == "ab a");
}

TEST_CASE("Missing or invalid files are reported with their path", "[tokenizer]") {
  const auto missing = Tokenizer::Load("/nonexistent/dir");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == absl::StatusCode::kNotFound);
  CHECK_THAT(std::string(missing.status().message()), Catch::Contains("tokenizer.json"));
}

TEST_CASE("Malformed tokenizer.json components name what is wrong", "[tokenizer]") {
  CHECK_THAT(LoadError(nlohmann::json::array()), Catch::Contains("expected a JSON object"));
  CHECK_THAT(LoadError({{"added_tokens", nlohmann::json::array()}}), Catch::Contains("model"));

  auto wordpiece = MinimalTokenizer();
  wordpiece["model"]["type"] = "WordPiece";
  CHECK_THAT(LoadError(wordpiece), Catch::Contains("unsupported model type \"WordPiece\""));

  auto bad_id = MinimalTokenizer();
  bad_id["model"]["vocab"]["a"] = "zero";
  CHECK_THAT(LoadError(bad_id), Catch::Contains("vocab entry \"a\""));

  auto bad_merge = MinimalTokenizer();
  bad_merge["model"]["merges"] = nlohmann::json::array({"ab"});
  CHECK_THAT(LoadError(bad_merge), Catch::Contains("merge"));

  auto normalizer = MinimalTokenizer();
  normalizer["normalizer"] = {{"type", "Precompiled"}};
  CHECK_THAT(LoadError(normalizer), Catch::Contains("unsupported normalizer type \"Precompiled\""));

  auto regex = MinimalTokenizer();
  regex["pre_tokenizer"] = {
      {"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  CHECK_THAT(LoadError(regex), Catch::Contains("invalid regex"));

  auto behavior = MinimalTokenizer();
  behavior["pre_tokenizer"] = {
      {"type", "Split"}, {"pattern", {{"String", " "}}}, {"behavior", "Sideways"}};
  CHECK_THAT(LoadError(behavior), Catch::Contains("Sideways"));

  auto decoder = MinimalTokenizer();
  decoder["decoder"] = {{"type", "WordPiece"}};
  CHECK_THAT(LoadError(decoder), Catch::Contains("unsupported decoder type \"WordPiece\""));

  // A float where a count belongs was cast to int (undefined behaviour; a fuzzer finding).
  for (const nlohmann::json& bad :
       {nlohmann::json(2.2e57), nlohmann::json(-1), nlohmann::json("2")}) {
    auto strip = MinimalTokenizer();
    strip["decoder"] = {{"type", "Strip"}, {"content", " "}, {"start", bad}};
    CHECK_THAT(LoadError(strip), Catch::Contains("\"start\" must be a non-negative integer"));
  }

  auto type_mismatch = MinimalTokenizer();
  type_mismatch["model"]["byte_fallback"] = "yes";
  CHECK_THAT(LoadError(type_mismatch), Catch::Contains("tokenizer.json"));

  auto added = MinimalTokenizer();
  added["added_tokens"] = nlohmann::json::array({nlohmann::json{{"content", "<x>"}}});
  CHECK_THAT(LoadError(added), Catch::Contains("added token"));
  // An id past the id range was narrowed into TokenId (2^32 + 5 became 5).
  for (const nlohmann::json& bad : {nlohmann::json(int64_t{1} << 32 | 5), nlohmann::json(1.5)}) {
    auto wide = MinimalTokenizer();
    wide["added_tokens"] = nlohmann::json::array({nlohmann::json{{"content", "<x>"}, {"id", bad}}});
    CHECK_THAT(LoadError(wide), Catch::Contains("added token"));
    auto vocab = MinimalTokenizer();
    vocab["model"]["vocab"]["zz"] = bad;
    CHECK_THAT(LoadError(vocab), Catch::Contains("\"zz\" has no valid id"));
  }

  auto post = MinimalTokenizer();
  post["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", nlohmann::json::array({nlohmann::json{{"SpecialToken", {{"id", "<s>"}}}}})},
      {"special_tokens", nlohmann::json::object()}};
  CHECK_THAT(LoadError(post), Catch::Contains("\"<s>\""));
}

// Fuzz finding fuzz/regressions/tokenizer_json/template_special_id_outside_vocab: the template's
// special token had id 5 but no token had it (the file's "added_tokens" key was misspelled), so
// Encode(..., true) returned an id >= vocab_size().
TEST_CASE("A post-processor id that no token has fails the load", "[tokenizer]") {
  auto post = MinimalTokenizer();
  post["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", nlohmann::json::array({nlohmann::json{{"SpecialToken", {{"id", "<s>"}}}},
                                        nlohmann::json{{"Sequence", {{"id", "A"}}}}})},
      {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {5}}, {"tokens", {"<s>"}}}}}}};
  CHECK_THAT(LoadError(post), Catch::Contains("post_processor adds token id 5"));

  // The same template loads once <s> is an added token, and Encode's ids stay in range.
  post["added_tokens"] =
      nlohmann::json::array({nlohmann::json{{"id", 5}, {"content", "<s>"}, {"special", true}}});
  const auto tokenizer = Tokenizer::FromJson(post, nullptr);
  REQUIRE(tokenizer.ok());
  CHECK((*tokenizer)->Encode("ab", true) == std::vector<TokenId>{5, 2});
  CHECK((*tokenizer)->vocab_size() == 6);
}

TEST_CASE("chat_template.jinja is read when the config has no template", "[tokenizer]") {
  const std::string dir = std::string(JUNCTION_BINARY_DIR) + "/tokenizer_jinja_fixture";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/tokenizer.json") << MinimalTokenizer().dump();
  std::ofstream(dir + "/chat_template.jinja")
      << "{% for m in messages %}[{{ m.content }}]{% endfor %}\n";
  const auto tokenizer = Tokenizer::Load(dir);
  REQUIRE(tokenizer.ok());
  REQUIRE((*tokenizer)->chat_template() != nullptr);
  const auto out = (*tokenizer)
                       ->chat_template()
                       ->Render(nlohmann::json::array({{{"role", "user"}, {"content", "ab"}}}),
                                false, nullptr, "", "");
  REQUIRE(out.ok());
  CHECK(*out == "[ab]");
}

TEST_CASE("A chat_template that does not parse fails the load", "[tokenizer]") {
  const std::string error =
      LoadError(MinimalTokenizer(), {{"chat_template", "{% for m in messages %}{{ m }}"}});
  CHECK_THAT(error, Catch::Contains("chat_template"));
  CHECK_THAT(error, Catch::Contains("endfor"));
}

TEST_CASE("Template errors name the construct and the line", "[chat_template]") {
  const auto include = ChatTemplate::Parse("line one\n{% include 'other.jinja' %}");
  REQUIRE_FALSE(include.ok());
  CHECK_THAT(std::string(include.status().message()), Catch::Contains("line 2"));
  CHECK_THAT(std::string(include.status().message()), Catch::Contains("include"));

  const auto unterminated = ChatTemplate::Parse("{{ 'abc }}");
  REQUIRE_FALSE(unterminated.ok());
  CHECK_THAT(std::string(unterminated.status().message()), Catch::Contains("unterminated"));

  const auto bad_char = ChatTemplate::Parse("{{ a ; b }}");
  REQUIRE_FALSE(bad_char.ok());
  CHECK_THAT(std::string(bad_char.status().message()), Catch::Contains("';'"));

  const auto filter = ChatTemplate::Parse("a\nb\n{{ messages | frobnicate }}");
  REQUIRE(filter.ok());
  const auto rendered = filter->Render(nlohmann::json::array(), false, nullptr, "", "");
  REQUIRE_FALSE(rendered.ok());
  CHECK_THAT(std::string(rendered.status().message()), Catch::Contains("line 3"));
  CHECK_THAT(std::string(rendered.status().message()), Catch::Contains("frobnicate"));

  const auto test = ChatTemplate::Parse("{% if x is prime %}{% endif %}");
  REQUIRE(test.ok());
  const auto tested = test->Render(nlohmann::json::array(), false, nullptr, "", "");
  REQUIRE_FALSE(tested.ok());
  CHECK_THAT(std::string(tested.status().message()), Catch::Contains("test 'prime'"));
}

}  // namespace
}  // namespace junction
