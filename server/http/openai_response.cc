#include "server/http/openai_response.h"

#include <atomic>
#include <chrono>
#include <random>

#include "absl/strings/str_format.h"

namespace junction::server {
namespace {

std::string RandomHex(int digits) {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng(std::random_device{}() ^ (counter++ << 32));
  std::string out;
  while (static_cast<int>(out.size()) < digits) out += absl::StrFormat("%016x", rng());
  return out.substr(0, digits);
}

std::string TokenText(const Tokenizer& tokenizer, TokenId id) {
  const TokenId ids[] = {id};
  return tokenizer.Decode(ids, /*skip_special_tokens=*/false);
}

nlohmann::json Bytes(const std::string& s) {
  nlohmann::json bytes = nlohmann::json::array();
  for (unsigned char c : s) bytes.push_back(static_cast<int>(c));
  return bytes;
}

nlohmann::json CompletionLogprobs(const std::vector<TokenLogprob>& logprobs, int top,
                                  const Tokenizer& tokenizer) {
  nlohmann::json tokens = nlohmann::json::array(), token_logprobs = nlohmann::json::array(),
                 top_logprobs = nlohmann::json::array();
  for (const TokenLogprob& lp : logprobs) {
    tokens.push_back(TokenText(tokenizer, lp.id));
    token_logprobs.push_back(lp.logprob);
    nlohmann::json alternatives = nlohmann::json::object();
    for (int i = 0; i < top && i < static_cast<int>(lp.top.size()); ++i) {
      alternatives[TokenText(tokenizer, lp.top[i].first)] = lp.top[i].second;
    }
    top_logprobs.push_back(alternatives);
  }
  return {{"tokens", tokens}, {"token_logprobs", token_logprobs}, {"top_logprobs", top_logprobs}};
}

nlohmann::json ChatLogprobs(const std::vector<TokenLogprob>& logprobs, int top,
                            const Tokenizer& tokenizer) {
  nlohmann::json content = nlohmann::json::array();
  for (const TokenLogprob& lp : logprobs) {
    const std::string token = TokenText(tokenizer, lp.id);
    nlohmann::json alternatives = nlohmann::json::array();
    for (int i = 0; i < top && i < static_cast<int>(lp.top.size()); ++i) {
      const std::string alt = TokenText(tokenizer, lp.top[i].first);
      alternatives.push_back(
          {{"token", alt}, {"logprob", lp.top[i].second}, {"bytes", Bytes(alt)}});
    }
    content.push_back({{"token", token},
                       {"logprob", lp.logprob},
                       {"bytes", Bytes(token)},
                       {"top_logprobs", alternatives}});
  }
  return {{"content", content}};
}

nlohmann::json FinishReasonJson(const char* reason) {
  return reason == nullptr ? nlohmann::json(nullptr) : nlohmann::json(reason);
}

nlohmann::json LogprobsJson(const ResponseHeader& header, const ChoiceOutput& choice,
                            const Tokenizer& tokenizer) {
  if (!header.want_logprobs) return nullptr;
  return header.chat ? ChatLogprobs(choice.logprobs, header.top_logprobs, tokenizer)
                     : CompletionLogprobs(choice.logprobs, header.top_logprobs, tokenizer);
}

nlohmann::json Envelope(const ResponseHeader& header, bool chunk) {
  const char* object =
      header.chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion";
  return {
      {"id", header.id}, {"object", object}, {"created", header.created}, {"model", header.model}};
}

}  // namespace

ResponseHeader MakeResponseHeader(bool chat, const std::string& model, int top_logprobs,
                                  bool want_logprobs) {
  ResponseHeader header;
  header.chat = chat;
  header.id = (chat ? "chatcmpl-" : "cmpl-") + RandomHex(24);
  header.created = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  header.model = model;
  header.top_logprobs = top_logprobs;
  header.want_logprobs = want_logprobs;
  return header;
}

const char* OpenAiFinishReason(FinishReason reason) {
  switch (reason) {
    case FinishReason::kLength:
      return "length";
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kNone:
      return nullptr;
    default:
      return "abort";
  }
}

nlohmann::json UsageJson(const Usage& total) {
  nlohmann::json usage = {{"prompt_tokens", total.prompt_tokens},
                          {"completion_tokens", total.completion_tokens},
                          {"total_tokens", total.prompt_tokens + total.completion_tokens}};
  if (total.cached_prompt_tokens > 0) {
    usage["prompt_tokens_details"] = {{"cached_tokens", total.cached_prompt_tokens}};
  }
  return usage;
}

nlohmann::json FullResponse(const ResponseHeader& header, const std::vector<ChoiceOutput>& choices,
                            const Usage& usage, const Tokenizer& tokenizer) {
  nlohmann::json out = Envelope(header, /*chunk=*/false);
  nlohmann::json list = nlohmann::json::array();
  for (const ChoiceOutput& choice : choices) {
    nlohmann::json c = {{"index", choice.index},
                        {"logprobs", LogprobsJson(header, choice, tokenizer)},
                        {"finish_reason", FinishReasonJson(choice.finish_reason)}};
    if (header.chat) {
      c["message"] = {{"role", "assistant"}, {"content", choice.text}};
    } else {
      c["text"] = choice.text;
    }
    list.push_back(std::move(c));
  }
  out["choices"] = std::move(list);
  out["usage"] = UsageJson(usage);
  return out;
}

nlohmann::json ChunkJson(const ResponseHeader& header, const ChoiceOutput& choice,
                         const Tokenizer& tokenizer, bool usage_null) {
  nlohmann::json out = Envelope(header, /*chunk=*/true);
  nlohmann::json c = {{"index", choice.index},
                      {"logprobs", LogprobsJson(header, choice, tokenizer)},
                      {"finish_reason", FinishReasonJson(choice.finish_reason)}};
  if (header.chat) {
    nlohmann::json delta = nlohmann::json::object();
    if (choice.first) delta["role"] = "assistant";
    if (choice.first || !choice.text.empty()) delta["content"] = choice.text;
    c["delta"] = std::move(delta);
  } else {
    c["text"] = choice.text;
  }
  out["choices"] = nlohmann::json::array({std::move(c)});
  if (usage_null) out["usage"] = nullptr;
  return out;
}

nlohmann::json UsageChunkJson(const ResponseHeader& header, const Usage& usage) {
  nlohmann::json out = Envelope(header, /*chunk=*/true);
  out["choices"] = nlohmann::json::array();
  out["usage"] = UsageJson(usage);
  return out;
}

std::string SseEvent(const nlohmann::json& json) {
  return "data: " + json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n\n";
}

}  // namespace junction::server
