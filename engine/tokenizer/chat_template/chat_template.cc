#include "engine/tokenizer/chat_template/chat_template.h"

#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "engine/tokenizer/chat_template/ast.h"
#include "engine/tokenizer/chat_template/interpreter.h"
#include "engine/tokenizer/chat_template/lexer.h"

namespace junction {

nlohmann::ordered_json ChatMessagesToJson(const std::vector<ChatMessage>& messages) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const ChatMessage& m : messages) {
    nlohmann::ordered_json message = {{"role", m.role}, {"content", m.content}};
    if (!m.tool_calls.is_null()) message["tool_calls"] = m.tool_calls;
    out.push_back(std::move(message));
  }
  return out;
}

absl::StatusOr<ChatTemplate> ChatTemplate::Parse(std::string_view source) {
  ASSIGN_OR_RETURN(std::vector<jinja::Token> tokens, jinja::Lex(source));
  ASSIGN_OR_RETURN(std::shared_ptr<const jinja::TemplateNode> root,
                   jinja::ParseTemplate(std::move(tokens)));
  return ChatTemplate(std::move(root));
}

absl::StatusOr<std::string> ChatTemplate::Render(const nlohmann::json& messages,
                                                 bool add_generation_prompt,
                                                 const nlohmann::json& tools,
                                                 const std::string& bos_token,
                                                 const std::string& eos_token) const {
  // Round-trips through text to convert; nlohmann::json has already sorted object keys.
  return Render(nlohmann::ordered_json::parse(messages.dump()), add_generation_prompt,
                nlohmann::ordered_json::parse(tools.dump()), bos_token, eos_token);
}

absl::StatusOr<std::string> ChatTemplate::Render(const nlohmann::ordered_json& messages,
                                                 bool add_generation_prompt,
                                                 const nlohmann::ordered_json& tools,
                                                 const std::string& bos_token,
                                                 const std::string& eos_token) const {
  nlohmann::ordered_json variables = {{"messages", messages},
                                      {"add_generation_prompt", add_generation_prompt},
                                      {"tools", tools},
                                      {"bos_token", bos_token},
                                      {"eos_token", eos_token}};
  return RenderWith(variables);
}

absl::StatusOr<std::string> ChatTemplate::RenderWith(
    const nlohmann::ordered_json& variables) const {
  if (!variables.is_object()) {
    return absl::InvalidArgumentError("chat template variables must be a JSON object");
  }
  auto globals = std::make_shared<jinja::Scope>(nullptr);
  for (const auto& [name, value] : variables.items()) {
    globals->Set(name, jinja::Value::FromJson(value));
  }
  jinja::Interpreter interpreter;
  return interpreter.Render(*root_, std::move(globals));
}

}  // namespace junction
