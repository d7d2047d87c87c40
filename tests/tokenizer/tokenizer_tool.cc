// junction-tokenizer-tool: the C++ side of the oracle comparison (tests/tokenizer/compare.mjs).
//   encode-json DIR FILE   FILE is a JSON array of strings; prints one JSON object with, per
//                          string, ids without and with special tokens and the decoded texts.
//   render DIR FILE [TEMPLATE]  FILE is a JSON array of {messages, add_generation_prompt,
//                          tools?}; prints a JSON array of {"text": ...} or {"error": ...}.
//                          TEMPLATE (a .jinja file) replaces the tokenizer's chat_template.
//   tokenize DIR FILE | detokenize DIR FILE   the junction-cli modes (RunTokenizeCommand).
#include <chrono>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>

#include "clients/cli/tokenize_command.h"
#include "engine/tokenizer/chat_template/chat_template.h"
#include "engine/tokenizer/tokenizer.h"
#include "nlohmann/json.hpp"

namespace {

using OrderedJson = nlohmann::ordered_json;

bool ReadJson(const std::string& path, OrderedJson& out) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  out = OrderedJson::parse(buffer.str(), nullptr, false);
  return in.good() || !out.is_discarded();
}

std::string Dump(const OrderedJson& json) {
  return json.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

int EncodeJson(const junction::Tokenizer& tokenizer, const OrderedJson& texts) {
  OrderedJson ids = OrderedJson::array(), ids_special = OrderedJson::array(),
              decoded = OrderedJson::array(), decoded_skip = OrderedJson::array();
  for (const auto& text : texts) {
    const std::string s = text.get<std::string>();
    const auto plain = tokenizer.Encode(s, false);
    ids.push_back(plain);
    ids_special.push_back(tokenizer.Encode(s, true));
    decoded.push_back(tokenizer.Decode(plain, false));
    decoded_skip.push_back(tokenizer.Decode(plain, true));
  }
  std::cout << Dump({{"ids", ids},
                     {"ids_special", ids_special},
                     {"decoded", decoded},
                     {"decoded_skip", decoded_skip}})
            << "\n";
  return 0;
}

int Render(const junction::Tokenizer& tokenizer, const OrderedJson& cases,
           const std::string& template_file) {
  const junction::ChatTemplate* chat_template = tokenizer.chat_template();
  std::optional<junction::ChatTemplate> own;
  if (!template_file.empty()) {
    std::ifstream in(template_file, std::ios::binary);
    std::stringstream source;
    source << in.rdbuf();
    auto parsed = junction::ChatTemplate::Parse(source.str());
    if (!parsed.ok()) {
      std::cerr << "error: " << template_file << ": " << parsed.status().message() << "\n";
      return 1;
    }
    own.emplace(std::move(parsed).value());
    chat_template = &*own;
  }
  if (chat_template == nullptr) {
    std::cerr << "error: the tokenizer has no chat_template\n";
    return 1;
  }
  OrderedJson results = OrderedJson::array();
  for (const auto& c : cases) {
    const auto text =
        chat_template->Render(c.at("messages"), c.value("add_generation_prompt", false),
                              c.contains("tools") ? c["tools"] : OrderedJson(),
                              tokenizer.bos_token(), tokenizer.eos_token());
    if (text.ok()) {
      results.push_back({{"text", *text}});
    } else {
      results.push_back({{"error", std::string(text.status().message())}});
    }
  }
  std::cout << Dump(results) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 && !(argc == 5 && std::string(argv[1]) == "render")) {
    std::cerr << "usage: junction-tokenizer-tool encode-json|render|tokenize|detokenize DIR FILE"
                 " [TEMPLATE]\n";
    return 2;
  }
  const std::string mode = argv[1], dir = argv[2], file = argv[3];
  if (mode == "tokenize" || mode == "detokenize") {
    return junction::RunTokenizeCommand(dir, file, mode == "detokenize");
  }
  auto tokenizer = junction::Tokenizer::Load(dir);
  if (!tokenizer.ok()) {
    std::cerr << "error: " << tokenizer.status().message() << "\n";
    return 1;
  }
  OrderedJson input;
  if (!ReadJson(file, input) || input.is_discarded() || !input.is_array()) {
    std::cerr << "error: " << file << " is not a JSON array\n";
    return 1;
  }
  if (mode == "encode-json") return EncodeJson(**tokenizer, input);
  if (mode == "render") return Render(**tokenizer, input, argc == 5 ? argv[4] : "");
  std::cerr << "error: unknown mode " << mode << "\n";
  return 2;
}
