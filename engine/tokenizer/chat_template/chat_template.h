// Chat templates: renders tokenizer_config.json's Jinja "chat_template" with an interpreter for
// the subset of Jinja real templates use (for with loop variables and else, if/elif/else, set
// and block set, namespace, macros, filters, tests, string/dict methods, raise_exception).
// Whitespace handling matches transformers (trim_blocks + lstrip_blocks, "-" markers, final
// newline dropped). Anything else is a parse or render error naming the construct and its line.
//
// A parsed ChatTemplate is immutable; Render is thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace junction {

namespace jinja {
struct TemplateNode;
}

// A message as the server receives it. tool_calls is a JSON array (OpenAI shape) or null.
struct ChatMessage {
  std::string role;
  std::string content;
  nlohmann::ordered_json tool_calls;
};

// Builds the `messages` array a template expects from ChatMessages.
nlohmann::ordered_json ChatMessagesToJson(const std::vector<ChatMessage>& messages);

class ChatTemplate {
 public:
  // InvalidArgument "line N: ..." for a syntax error or an unsupported construct.
  static absl::StatusOr<ChatTemplate> Parse(std::string_view source);

  // Renders with the variables messages, add_generation_prompt, tools (null -> none),
  // bos_token, eos_token. Fails with InvalidArgument for raise_exception (its message) or a
  // runtime error ("line N: ..."). Object key order is kept as given (use ordered_json to
  // control it; nlohmann::json sorts keys).
  absl::StatusOr<std::string> Render(const nlohmann::json& messages, bool add_generation_prompt,
                                     const nlohmann::json& tools, const std::string& bos_token,
                                     const std::string& eos_token) const;
  absl::StatusOr<std::string> Render(const nlohmann::ordered_json& messages,
                                     bool add_generation_prompt,
                                     const nlohmann::ordered_json& tools,
                                     const std::string& bos_token,
                                     const std::string& eos_token) const;
  // General form: `variables` is an object of extra variables (e.g. enable_thinking).
  absl::StatusOr<std::string> RenderWith(const nlohmann::ordered_json& variables) const;

 private:
  explicit ChatTemplate(std::shared_ptr<const jinja::TemplateNode> root) : root_(std::move(root)) {}
  std::shared_ptr<const jinja::TemplateNode> root_;
};

}  // namespace junction
