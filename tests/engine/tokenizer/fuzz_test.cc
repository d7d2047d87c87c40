// Fuzz-style robustness: random bytes (invalid UTF-8 included) into Encode, random ids into
// Decode and the streaming decoder, random template text into the parser. Deterministic seeds;
// the property is "no crash, valid UTF-8 out".
#include <catch2/catch.hpp>
#include <random>

#include "engine/tokenizer/chat_template/chat_template.h"
#include "engine/tokenizer/incremental_decoder.h"
#include "engine/tokenizer/utf8.h"
#include "tests/engine/tokenizer/tokenizer_test_util.h"

namespace junction {
namespace {

std::string RandomBytes(std::mt19937& rng, size_t max_len) {
  std::uniform_int_distribution<size_t> len(0, max_len);
  std::uniform_int_distribution<int> byte(0, 255), kind(0, 9);
  const char* fragments[] = {"<|im_start|>", "<s>",  " ",         "\n",    "\xE2\x96\x81",
                             "\xF0\x9F",     "\xC3", "e\xCC\x81", "12345", "<0x41>"};
  std::string out;
  const size_t n = len(rng);
  while (out.size() < n) {
    // Mostly raw bytes, sometimes fragments that hit special paths (added tokens, ▁, halves).
    if (kind(rng) < 8) {
      out.push_back(static_cast<char>(byte(rng)));
    } else {
      out += fragments[byte(rng) % 10];
    }
  }
  return out;
}

TEST_CASE("Random bytes into Encode and random ids into Decode never crash", "[tokenizer][fuzz]") {
  std::mt19937 rng(1234);
  for (const std::string& name : testing::RealTokenizerNames()) {
    const auto tokenizer = testing::LoadRealTokenizer(name);
    std::uniform_int_distribution<int> id(-5, tokenizer->vocab_size() + 5);
    for (int iteration = 0; iteration < 300; ++iteration) {
      const std::string bytes = RandomBytes(rng, 200);
      const auto ids = tokenizer->Encode(bytes, iteration % 2 == 0);
      for (TokenId t : ids) REQUIRE((t >= 0 && t < tokenizer->vocab_size()));
      REQUIRE(utf8::IsValid(tokenizer->Decode(ids, false)));
      // Valid UTF-8 input survives a byte-exact round trip on the byte-level tokenizers.
      if (name == "gptoss") {
        REQUIRE(tokenizer->Decode(tokenizer->Encode(bytes, false), false, false) ==
                utf8::ToValidLossy(bytes));
      }
      std::vector<TokenId> random_ids(iteration % 40);
      for (TokenId& t : random_ids) t = id(rng);
      REQUIRE(utf8::IsValid(tokenizer->Decode(random_ids, iteration % 3 == 0)));
      IncrementalDecoder decoder(*tokenizer, {"\n\n", "ab"}, iteration % 2 == 0);
      for (TokenId t : random_ids) REQUIRE(utf8::IsValid(decoder.Add(t).text));
      REQUIRE(utf8::IsValid(decoder.Flush()));
    }
  }
}

TEST_CASE("Random template sources parse or fail cleanly", "[chat_template][fuzz]") {
  std::mt19937 rng(99);
  const char* pieces[] = {"{{",   "}}",    "{%",     "%}",      "{#",         "#}",         "-",
                          " if ", " for ", " in ",   " endif ", " endfor ",   " set ",      "x",
                          " = ",  "'",     "\"",     "(",       ")",          "[",          "]",
                          "|",    "trim",  " is ",   "defined", "messages",   ".",          "1",
                          ":",    ",",     " else ", " macro ", " endmacro ", "loop.index", "+",
                          "\n",   "text"};
  std::uniform_int_distribution<size_t> pick(0, std::size(pieces) - 1), len(0, 30);
  const auto messages = nlohmann::json::array({{{"role", "user"}, {"content", "hi"}}});
  int parsed = 0;
  for (int iteration = 0; iteration < 3000; ++iteration) {
    std::string source;
    for (size_t i = len(rng); i > 0; --i) source += pieces[pick(rng)];
    const auto tmpl = ChatTemplate::Parse(source);
    if (!tmpl.ok()) {
      REQUIRE_FALSE(tmpl.status().message().empty());
      continue;
    }
    ++parsed;
    const auto rendered = tmpl->Render(messages, true, nullptr, "<s>", "</s>");
    if (!rendered.ok()) REQUIRE_FALSE(rendered.status().message().empty());
  }
  CHECK(parsed > 100);
}

TEST_CASE("Lossy UTF-8 decoding replaces maximal subparts", "[tokenizer]") {
  CHECK(utf8::ToValidLossy("a\xF0\x9F"
                           "b") ==
        "a\xEF\xBF\xBD"
        "b");                                                           // one U+FFFD
  CHECK(utf8::ToValidLossy("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong: two
  CHECK(utf8::ToValidLossy("\xED\xA0\x80") ==
        "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate: three
  CHECK(utf8::ToValidLossy("ok \xE2\x82\xAC") == "ok \xE2\x82\xAC");
  CHECK(utf8::CompletePrefixLength("ab\xE2\x82") == 2);
  CHECK(utf8::CompletePrefixLength("ab\xE2\x82\xAC") == 5);
  CHECK(utf8::CompletePrefixLength("ab\xE0\x80") == 4);  // cannot continue: not held
}

}  // namespace
}  // namespace junction
