#include "engine/tokenizer/incremental_decoder.h"

#include <catch2/catch.hpp>

#include "engine/tokenizer/utf8.h"
#include "tests/engine/tokenizer/tokenizer_test_util.h"

namespace junction {
namespace {

// Streams `ids` one at a time; returns the concatenated text and checks each piece is valid.
std::string Stream(IncrementalDecoder& decoder, const std::vector<TokenId>& ids,
                   bool* stopped = nullptr) {
  std::string out;
  for (TokenId id : ids) {
    const auto piece = decoder.Add(id);
    REQUIRE(utf8::IsValid(piece.text));
    out += piece.text;
    if (piece.stopped) {
      if (stopped != nullptr) *stopped = true;
      return out;
    }
  }
  const std::string rest = decoder.Flush();
  REQUIRE(utf8::IsValid(rest));
  return out + rest;
}

TEST_CASE("Streaming equals one-shot decoding and never splits UTF-8", "[tokenizer]") {
  const std::vector<std::string> corpus = testing::LoadCorpus();
  for (const std::string name : {"qwen3", "llama2", "gemma3"}) {
    const auto tokenizer = testing::LoadRealTokenizer(name);
    for (size_t i = 0; i < corpus.size(); i += 7) {
      const auto ids = tokenizer->Encode(corpus[i], false);
      IncrementalDecoder decoder(*tokenizer, {}, /*skip_special_tokens=*/false);
      INFO(name << " #" << i << ": " << corpus[i]);
      CHECK(Stream(decoder, ids) == tokenizer->Decode(ids, false, /*clean_up=*/false));
    }
  }
}

TEST_CASE("A multi-byte character split over byte tokens is held until complete", "[tokenizer]") {
  const auto tokenizer = testing::LoadRealTokenizer("llama2");
  const std::string emoji = "\xF0\x9F\xAB\xA0";  // not in the vocab: four <0xXX> tokens
  const auto ids = tokenizer->Encode("a" + emoji, false);
  IncrementalDecoder decoder(*tokenizer, {}, false);
  std::vector<std::string> pieces;
  for (TokenId id : ids) pieces.push_back(decoder.Add(id).text);
  REQUIRE(pieces.size() >= 5);
  // Nothing is emitted while the sequence is incomplete, then all four bytes at once.
  CHECK(pieces[pieces.size() - 2].empty());
  CHECK(pieces.back() == emoji);
  CHECK(decoder.Flush().empty());
}

TEST_CASE("Stop strings spanning tokens are found and cut", "[tokenizer]") {
  const auto tokenizer = testing::LoadRealTokenizer("qwen3");
  const auto ids = tokenizer->Encode("Hello world, this is a test. Goodbye!", false);

  IncrementalDecoder across(*tokenizer, {"s is a t"}, false);
  bool stopped = false;
  CHECK(Stream(across, ids, &stopped) == "Hello world, thi");
  CHECK(stopped);
  CHECK(across.matched_stop_string() == "s is a t");
  CHECK(across.Add(ids[0]).stopped);  // stays stopped

  IncrementalDecoder earliest(*tokenizer, {"Goodbye", "world"}, false);
  CHECK(Stream(earliest, ids) == "Hello ");

  IncrementalDecoder none(*tokenizer, {"absent", "test!"}, false);
  stopped = false;
  CHECK(Stream(none, ids, &stopped) == "Hello world, this is a test. Goodbye!");
  CHECK_FALSE(stopped);

  // A held-back prefix that turns out not to be a stop string is released.
  IncrementalDecoder partial(*tokenizer, {"world peace"}, false);
  std::string out;
  for (TokenId id : tokenizer->Encode("Hello world, all", false)) out += partial.Add(id).text;
  CHECK(out == "Hello world, all");
}

TEST_CASE("skip_special_tokens drops special tokens from the stream", "[tokenizer]") {
  const auto tokenizer = testing::LoadRealTokenizer("qwen3");
  const auto ids = tokenizer->Encode("<|im_start|>assistant\nHi<|im_end|>", false);
  IncrementalDecoder decoder(*tokenizer, {}, /*skip_special_tokens=*/true);
  CHECK(Stream(decoder, ids) == "assistant\nHi");
}

}  // namespace
}  // namespace junction
