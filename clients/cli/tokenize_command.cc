#include "clients/cli/tokenize_command.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.h"
#include "nlohmann/json.hpp"

namespace junction {
namespace {

std::string IdsToJson(const std::vector<TokenId>& ids) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(ids[i]);
  }
  return out + "]";
}

}  // namespace

int RunTokenizeCommand(const std::string& tokenizer_dir, const std::string& file, bool detokenize) {
  auto tokenizer = Tokenizer::Load(tokenizer_dir);
  if (!tokenizer.ok()) {
    std::cerr << "error: " << tokenizer.status().message() << "\n";
    return 1;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::cerr << "error: cannot open " << file << "\n";
    return 1;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string content = buffer.str();
  std::string out;
  size_t line_number = 0, start = 0;
  while (start < content.size()) {
    size_t end = content.find('\n', start);
    if (end == std::string::npos) end = content.size();
    const std::string_view line = std::string_view(content).substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (!detokenize) {
      out += IdsToJson((*tokenizer)->Encode(line, /*add_special_tokens=*/false));
      out += '\n';
      continue;
    }
    const nlohmann::json ids = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (ids.is_discarded() || !ids.is_array()) {
      std::cerr << "error: " << file << ":" << line_number << ": expected a JSON array of ids\n";
      return 1;
    }
    std::vector<TokenId> token_ids;
    for (const auto& id : ids) {
      if (!id.is_number_integer()) {
        std::cerr << "error: " << file << ":" << line_number << ": ids must be integers\n";
        return 1;
      }
      token_ids.push_back(static_cast<TokenId>(id.get<int64_t>()));
    }
    const std::string text = (*tokenizer)->Decode(token_ids, /*skip_special_tokens=*/false);
    out += nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out += '\n';
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace junction
