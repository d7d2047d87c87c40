// The chat-template interpreter: arbitrary template source through ChatTemplate::Parse, and
// every template that parses rendered against a fixed conversation (system, user, an assistant
// turn with tool calls, a tool answer), a tools list and both values of add_generation_prompt.
// Errors are fine; crashes, hangs (libFuzzer's -timeout) and sanitizer reports are not.
#pragma once

#include <cstdint>
#include <string>

#include "engine/tokenizer/chat_template/chat_template.h"
#include "fuzz/fuzz_data.h"
#include "nlohmann/json.hpp"

namespace junction::fuzz {
namespace internal {

inline const nlohmann::ordered_json& Messages() {
  static const auto* messages = new nlohmann::ordered_json(nlohmann::ordered_json::parse(R"([
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Weather in Paris? \u00e9\ud83d\ude00"},
    {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function":
      {"name": "get_weather", "arguments": {"city": "Paris", "days": [1, 2]}}}]},
    {"role": "tool", "content": "{\"temp\": 21.5}"},
    {"role": "assistant", "content": "<think>warm</think>21.5 degrees"},
    {"role": "user", "content": ""}
  ])"));
  return *messages;
}

inline const nlohmann::ordered_json& Tools() {
  static const auto* tools = new nlohmann::ordered_json(nlohmann::ordered_json::parse(R"([
    {"type": "function", "function": {"name": "get_weather", "description": "Forecast",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                     "required": ["city"]}}}
  ])"));
  return *tools;
}

}  // namespace internal

// Returns false when an accepted input breaks a property stated above.
inline bool ChatTemplateTarget(const uint8_t* data, size_t size) {
  auto chat_template = junction::ChatTemplate::Parse(junction::fuzz::AsText(data, size));
  if (!chat_template.ok()) return true;
  for (bool add_generation_prompt : {false, true}) {
    const nlohmann::ordered_json tools =
        add_generation_prompt ? internal::Tools() : nlohmann::ordered_json();
    auto text = chat_template->Render(internal::Messages(), add_generation_prompt, tools, "<s>",
                                      "</s>");
    (void)text;
  }
  return true;
}

}  // namespace junction::fuzz
