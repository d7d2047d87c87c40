#include "engine/tokenizer/tokenizer.h"

#include <catch2/catch.hpp>

#include "engine/tokenizer/nfc.h"
#include "tests/engine/tokenizer/tokenizer_test_util.h"

namespace junction {
namespace {

using testing::LoadCorpus;
using testing::LoadRealTokenizer;

bool ContainsAddedToken(const Tokenizer& tokenizer, const std::string& text) {
  for (TokenId id : tokenizer.Encode(text, false)) {
    if (tokenizer.IsSpecial(id)) return true;
  }
  return false;
}

TEST_CASE("Tokenizer encodes known ids of real tokenizers", "[tokenizer]") {
  const auto qwen3 = LoadRealTokenizer("qwen3");
  CHECK(qwen3->Encode("Hello world, this is a test.", false) ==
        std::vector<TokenId>{9707, 1879, 11, 419, 374, 264, 1273, 13});
  // Literal special tokens become their ids even without add_special_tokens.
  CHECK(qwen3->Encode("<|im_start|>user", false) == std::vector<TokenId>{151644, 872});
  CHECK(qwen3->eos_token() == "<|im_end|>");
  CHECK(qwen3->eos_token_id() == 151645);
  CHECK_FALSE(qwen3->bos_token_id().has_value());
  CHECK(qwen3->vocab_size() >= 151669);
  CHECK(qwen3->TokenToId("Hello") == 9707);
  CHECK_FALSE(qwen3->TokenToId("definitely not a token").has_value());
  REQUIRE(qwen3->chat_template() != nullptr);

  const auto llama2 = LoadRealTokenizer("llama2");
  // TemplateProcessing prepends <s> only with add_special_tokens.
  const auto plain = llama2->Encode("Hello", false);
  const auto with_bos = llama2->Encode("Hello", true);
  REQUIRE(with_bos.size() == plain.size() + 1);
  CHECK(with_bos[0] == 1);
  CHECK(llama2->bos_token_id() == 1);
  CHECK(llama2->chat_template() == nullptr);
  // Byte fallback: a character missing from the vocab becomes <0xXX> tokens and decodes back.
  const std::string rare = "\xF0\x9F\xAB\xA0";  // U+1FAE0
  CHECK(llama2->Decode(llama2->Encode(rare, false), false) == rare);
}

TEST_CASE("Tokenizer decode(encode(x)) == x on the corpus where lossless", "[tokenizer]") {
  const std::vector<std::string> corpus = LoadCorpus();
  REQUIRE(corpus.size() >= 2000);
  for (const std::string& name : testing::RealTokenizerNames()) {
    const auto tokenizer = LoadRealTokenizer(name);
    int checked = 0;
    for (const std::string& text : corpus) {
      // Llama 2's Prepend normalizer adds "▁" after every added token; those texts are lossy.
      if (name == "llama2" && ContainsAddedToken(*tokenizer, text)) continue;
      const std::string expected = name == "qwen3" ? NormalizeNfc(text) : text;
      const std::string decoded =
          tokenizer->Decode(tokenizer->Encode(text, false), false, /*clean_up=*/false);
      INFO(name << ": " << text);
      REQUIRE(decoded == expected);
      ++checked;
    }
    INFO(name);
    CHECK(checked > 1800);
  }
}

TEST_CASE("Tokenizer skip_special_tokens and clean-up follow the config", "[tokenizer]") {
  const auto llama3 = LoadRealTokenizer("llama3");
  const auto ids = llama3->Encode("<|begin_of_text|>Hi there .", false);
  REQUIRE(ids.front() == 128000);
  CHECK(llama3->Decode(ids, false) == "<|begin_of_text|>Hi there.");  // clean_up: true
  CHECK(llama3->Decode(ids, true) == "Hi there.");
  CHECK(llama3->Decode(ids, true, /*clean_up=*/false) == "Hi there .");
}

TEST_CASE("Tokenizer honours split_special_tokens", "[tokenizer]") {
  std::ifstream in(testing::RealTokenizerDir("qwen3") + "/tokenizer.json");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const auto json = nlohmann::json::parse(buffer.str());
  const auto split = Tokenizer::FromJson(json, {{"split_special_tokens", true}});
  REQUIRE(split.ok());
  const auto ids = (*split)->Encode("<|im_start|>", false);
  CHECK(ids.size() > 1);
  CHECK(std::find(ids.begin(), ids.end(), 151644) == ids.end());
  CHECK((*split)->Decode(ids, false) == "<|im_start|>");
}

TEST_CASE("Tokenizer loads the byte-level fixture tokenizer", "[tokenizer]") {
  const auto tokenizer =
      Tokenizer::Load(std::string(JUNCTION_TEST_DATA_DIR) + "/data/byte_tokenizer");
  REQUIRE(tokenizer.ok());
  const std::string text = "Hello, byte tokenizer! \xC3\xA9\xF0\x9F\x98\x80\n\tend";
  const auto ids = (*tokenizer)->Encode(text, false);
  CHECK_FALSE(ids.empty());
  CHECK((*tokenizer)->Decode(ids, false) == text);
  REQUIRE((*tokenizer)->chat_template() != nullptr);
  const auto rendered = (*tokenizer)
                            ->chat_template()
                            ->Render(nlohmann::json::array({{{"role", "user"}, {"content", "hi"}}}),
                                     true, nullptr, "", "");
  REQUIRE(rendered.ok());
  CHECK(*rendered == "user: hi\nassistant: ");
}

TEST_CASE("NFC composes, reorders marks and handles Hangul", "[tokenizer]") {
  CHECK(NormalizeNfc("e\xCC\x81") == "\xC3\xA9");                   // e + acute -> é
  CHECK(NormalizeNfc("\xE2\x84\xAB") == "\xC3\x85");                // Å sign -> Å
  CHECK(NormalizeNfc("q\xCC\x87\xCC\xA3") == "q\xCC\xA3\xCC\x87");  // reordered by class
  CHECK(NormalizeNfc("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8") == "\xEA\xB0\x81");  // 각
  CHECK(NormalizeNfc("plain ascii") == "plain ascii");
}

}  // namespace
}  // namespace junction
