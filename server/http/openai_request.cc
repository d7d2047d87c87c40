#include "server/http/openai_request.h"

#include <climits>

#include "absl/strings/str_cat.h"
#include "engine/tokenizer/chat_template/chat_template.h"
#include "server/http/json_fields.h"

namespace junction::server {
namespace {

constexpr int kMaxStopStrings = 4;
constexpr int kMaxLogprobs = 20;
constexpr int kMaxChoices = 128;

bool ParseSampling(JsonFields& f, const ServedModel& model, bool chat, CompletionRequest& out) {
  SamplingParams& s = out.sampling;
  f.Float("temperature", 0, 2, s.temperature);
  f.Float("top_p", 0, 1, s.top_p, /*min_exclusive=*/true);
  f.Int("top_k", -1, INT_MAX, s.top_k);
  f.Float("min_p", 0, 1, s.min_p);
  f.Uint64("seed", s.seed);
  f.Float("presence_penalty", -2, 2, s.presence_penalty);
  f.Float("frequency_penalty", -2, 2, s.frequency_penalty);
  f.Float("repetition_penalty", 0, 10, s.repetition_penalty, /*min_exclusive=*/true);
  f.StringOrList("stop", kMaxStopStrings, s.stop);
  f.IntList("stop_token_ids", 0, model.spec.vocab_size - 1, s.stop_token_ids);
  f.Bool("ignore_eos", s.ignore_eos);
  f.Bool("skip_special_tokens", out.skip_special_tokens);
  f.Int("priority", INT_MIN, INT_MAX, out.priority);
  f.Int("n", 1, kMaxChoices, out.n);
  if (chat) {
    f.Bool("logprobs", out.want_logprobs);
    f.Int("top_logprobs", 0, kMaxLogprobs, out.top_logprobs);
    if (f.ok() && f.Get("top_logprobs") != nullptr && !out.want_logprobs) {
      f.Fail(InvalidRequest("'top_logprobs' requires 'logprobs' to be true.", "top_logprobs",
                            "invalid_value"));
    }
  } else if (f.Get("logprobs") != nullptr) {
    out.want_logprobs = true;
    f.Int("logprobs", 0, kMaxLogprobs, out.top_logprobs);
  }
  // The engine reports the sampled token's logprob together with at least one alternative.
  if (out.want_logprobs) s.logprobs = std::max(out.top_logprobs, 1);
  return f.ok();
}

bool ParseStreamFields(JsonFields& f, CompletionRequest& out) {
  f.Bool("stream", out.stream);
  const nlohmann::json* options = f.Get("stream_options");
  if (!f.ok() || options == nullptr) return f.ok();
  if (!options->is_object()) return f.WrongType("stream_options", "an object", *options);
  if (!out.stream) {
    return f.Fail(InvalidRequest("'stream_options' is only allowed when 'stream' is true.",
                                 "stream_options", "invalid_value"));
  }
  JsonFields inner(*options);
  if (!inner.Bool("include_usage", out.include_usage)) {
    return f.Fail(InvalidRequest(std::string(inner.error()->status.message()),
                                 "stream_options.include_usage", "invalid_type"));
  }
  return true;
}

// prompt: a string, an array of strings, an array of token ids or an array of such arrays.
bool ParsePrompts(JsonFields& f, const ServedModel& model, CompletionRequest& out) {
  const nlohmann::json* prompt = f.Get("prompt");
  if (prompt == nullptr) {
    return f.Fail(InvalidRequest("Missing required parameter: 'prompt'.", "prompt",
                                 "missing_required_parameter"));
  }
  constexpr const char* kExpected =
      "a string, an array of strings, an array of token ids or an array of token-id arrays";
  const int vocab = model.spec.vocab_size;
  auto ids_from = [&](const nlohmann::json& array) -> bool {
    std::vector<TokenId> ids;
    for (const nlohmann::json& id : array) {
      if (!id.is_number_integer()) return f.WrongType("prompt", kExpected, id);
      const bool fits = !id.is_number_unsigned() || id.get<uint64_t>() < uint64_t(vocab);
      if (!fits || id.get<int64_t>() < 0 || id.get<int64_t>() >= vocab) {
        return f.Fail(InvalidRequest(
            absl::StrCat("Invalid 'prompt': token id ", id.dump(), " is not in [0, ", vocab, ")."),
            "prompt", "invalid_value"));
      }
      ids.push_back(static_cast<TokenId>(id.get<int64_t>()));
    }
    out.prompts.push_back(std::move(ids));
    return true;
  };
  auto text = [&](const std::string& s) {
    out.prompts.push_back(model.tokenizer->Encode(s, /*add_special_tokens=*/true));
    return true;
  };
  if (prompt->is_string()) return text(prompt->get<std::string>());
  if (!prompt->is_array()) return f.WrongType("prompt", kExpected, *prompt);
  if (prompt->empty()) {
    return f.Fail(
        InvalidRequest("Invalid 'prompt': must not be empty.", "prompt", "invalid_value"));
  }
  if ((*prompt)[0].is_number_integer()) return ids_from(*prompt);
  for (const nlohmann::json& item : *prompt) {
    if (item.is_string()) {
      text(item.get<std::string>());
    } else if (item.is_array()) {
      if (!ids_from(item)) return false;
    } else {
      return f.WrongType("prompt", kExpected, item);
    }
  }
  return true;
}

// content: a string, null, or an array of {"type": "text", "text": ...} parts.
bool MessageContent(JsonFields& f, const nlohmann::json& content, std::string& out) {
  if (content.is_null()) return true;
  if (content.is_string()) {
    out = content.get<std::string>();
    return true;
  }
  constexpr const char* kExpected = "a string or an array of text parts";
  if (!content.is_array()) return f.WrongType("messages.content", kExpected, content);
  for (const nlohmann::json& part : content) {
    if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
        !part["text"].is_string()) {
      return f.Fail(InvalidRequest("Only text content parts are supported.", "messages.content",
                                   "invalid_value"));
    }
    out += part["text"].get<std::string>();
  }
  return true;
}

bool ParseChatPrompt(JsonFields& f, const ServedModel& model, CompletionRequest& out) {
  const nlohmann::json* messages = f.Get("messages");
  if (messages == nullptr) {
    return f.Fail(InvalidRequest("Missing required parameter: 'messages'.", "messages",
                                 "missing_required_parameter"));
  }
  if (!messages->is_array()) return f.WrongType("messages", "an array", *messages);
  if (messages->empty()) {
    return f.Fail(
        InvalidRequest("Invalid 'messages': must not be empty.", "messages", "invalid_value"));
  }
  std::vector<ChatMessage> chat;
  for (const nlohmann::json& m : *messages) {
    if (!m.is_object()) return f.WrongType("messages", "an array of objects", m);
    std::string role;
    if (m.contains("role") && m["role"].is_string()) role = m["role"].get<std::string>();
    if (role != "system" && role != "user" && role != "assistant" && role != "tool" &&
        role != "developer") {
      return f.Fail(InvalidRequest(
          "Invalid 'messages.role': must be one of system, developer, user, assistant, tool.",
          "messages.role", "invalid_value"));
    }
    ChatMessage message{role, "", nullptr};
    if (!MessageContent(f, m.contains("content") ? m["content"] : nlohmann::json(),
                        message.content)) {
      return false;
    }
    if (m.contains("tool_calls") && m["tool_calls"].is_array()) {
      message.tool_calls = nlohmann::ordered_json(m["tool_calls"]);
    }
    chat.push_back(std::move(message));
  }
  const ChatTemplate* chat_template = model.tokenizer->chat_template();
  if (chat_template == nullptr) {
    return f.Fail(InvalidRequest("This model has no chat template; use /v1/completions.",
                                 "messages", "no_chat_template"));
  }
  bool add_generation_prompt = true;
  f.Bool("add_generation_prompt", add_generation_prompt);
  const nlohmann::json* tools = f.Get("tools");
  if (tools != nullptr && !tools->is_array()) return f.WrongType("tools", "an array", *tools);
  absl::StatusOr<std::string> text = chat_template->Render(
      nlohmann::ordered_json(ChatMessagesToJson(chat)), add_generation_prompt,
      tools != nullptr ? nlohmann::ordered_json(*tools) : nlohmann::ordered_json(),
      model.tokenizer->bos_token(), model.tokenizer->eos_token());
  if (!text.ok()) {
    return f.Fail(
        InvalidRequest(absl::StrCat("The chat template failed: ", text.status().message()),
                       "messages", "chat_template_error"));
  }
  // The template writes any BOS itself.
  out.prompts.push_back(model.tokenizer->Encode(*text, /*add_special_tokens=*/false));
  return true;
}

// Empty prompts and prompts that do not fit the context with max_tokens are 400s.
bool CheckLengths(JsonFields& f, const ServedModel& model, bool max_tokens_given,
                  CompletionRequest& out) {
  const int context = model.spec.max_context;
  const char* prompt_param = out.chat ? "messages" : "prompt";
  int longest = 0;
  for (const std::vector<TokenId>& p : out.prompts) {
    if (p.empty()) {
      return f.Fail(InvalidRequest(
          absl::StrCat("Invalid '", prompt_param, "': the prompt is empty (0 tokens)."),
          prompt_param, "invalid_value"));
    }
    longest = std::max<int>(longest, p.size());
  }
  if (longest >= context) {
    return f.Fail(InvalidRequest(absl::StrCat("This model's maximum context length is ", context,
                                              " tokens. However, your prompt has ", longest,
                                              " tokens, which leaves no room for the completion."),
                                 prompt_param, "context_length_exceeded"));
  }
  if (!max_tokens_given) {
    if (out.chat) out.sampling.max_tokens = context - longest;
    out.sampling.max_tokens = std::min(out.sampling.max_tokens, context - longest);
    return true;
  }
  if (longest + int64_t{out.sampling.max_tokens} > context) {
    return f.Fail(InvalidRequest(
        absl::StrCat("This model's maximum context length is ", context,
                     " tokens. However, you requested ", int64_t{longest} + out.sampling.max_tokens,
                     " tokens (", longest, " in the prompt, ", out.sampling.max_tokens,
                     " in the completion). Please reduce the length of the prompt or completion."),
        "max_tokens", "context_length_exceeded"));
  }
  return true;
}

}  // namespace

std::optional<ApiError> CheckModelField(const nlohmann::json& body, const ServedModel& served,
                                        bool required) {
  auto it = body.find("model");
  if (it == body.end() || it->is_null()) {
    if (!required) return std::nullopt;
    return InvalidRequest("Missing required parameter: 'model'.", "model",
                          "missing_required_parameter");
  }
  if (!it->is_string()) {
    return InvalidRequest(absl::StrCat("Invalid type for 'model': expected a string, but got ",
                                       JsonTypeName(*it), " instead."),
                          "model", "invalid_type");
  }
  if (it->get<std::string>() != served.id) {
    return ApiError{absl::NotFoundError(
                        absl::StrCat("The model '", it->get<std::string>(), "' does not exist.")),
                    "model", "model_not_found"};
  }
  return std::nullopt;
}

std::optional<ApiError> ParseCompletionRequest(std::string_view body, const ServedModel& model,
                                               bool chat, CompletionRequest& out) {
  nlohmann::json json;
  if (auto error = ParseJsonObject(body, json)) return error;
  if (auto error = CheckModelField(json, model, /*required=*/true)) return error;
  out.chat = chat;
  JsonFields f(json);
  bool max_tokens_given = f.Get("max_tokens") != nullptr;
  f.Int("max_tokens", 1, INT_MAX, out.sampling.max_tokens);
  if (chat && f.Get("max_completion_tokens") != nullptr) {
    max_tokens_given = true;
    f.Int("max_completion_tokens", 1, INT_MAX, out.sampling.max_tokens);
  }
  bool echo = false;
  f.Bool("echo", echo);
  if (echo) f.Fail(InvalidRequest("'echo' is not supported.", "echo", "unsupported_value"));
  ParseSampling(f, model, chat, out);
  ParseStreamFields(f, out);
  if (f.ok()) chat ? ParseChatPrompt(f, model, out) : ParsePrompts(f, model, out);
  if (f.ok()) CheckLengths(f, model, max_tokens_given, out);
  if (f.ok() && out.prompts.size() * out.n > kMaxChoices) {
    f.Fail(
        InvalidRequest(absl::StrCat("At most ", kMaxChoices, " choices (prompts x n) per request."),
                       "n", "invalid_value"));
  }
  return f.error();
}

}  // namespace junction::server
