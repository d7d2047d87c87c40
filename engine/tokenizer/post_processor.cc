#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "engine/tokenizer/components.h"

namespace junction {
namespace {

class PassThroughPostProcessor : public PostProcessor {
 public:
  std::vector<TokenId> Process(std::vector<TokenId> ids) const override { return ids; }
};

// TemplateProcessing's "single" template: special-token ids and the sequence, in order.
class TemplatePostProcessor : public PostProcessor {
 public:
  struct Item {
    bool is_sequence = false;
    std::vector<TokenId> special_ids;
  };
  explicit TemplatePostProcessor(std::vector<Item> items) : items_(std::move(items)) {}

  std::vector<TokenId> Process(std::vector<TokenId> ids) const override {
    std::vector<TokenId> out;
    out.reserve(ids.size() + 4);
    for (const Item& item : items_) {
      if (item.is_sequence) {
        out.insert(out.end(), ids.begin(), ids.end());
      } else {
        out.insert(out.end(), item.special_ids.begin(), item.special_ids.end());
      }
    }
    return out;
  }

 private:
  std::vector<Item> items_;
};

class SequencePostProcessor : public PostProcessor {
 public:
  explicit SequencePostProcessor(std::vector<std::unique_ptr<PostProcessor>> steps)
      : steps_(std::move(steps)) {}
  std::vector<TokenId> Process(std::vector<TokenId> ids) const override {
    for (const auto& step : steps_) ids = step->Process(std::move(ids));
    return ids;
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> steps_;
};

absl::StatusOr<std::unique_ptr<PostProcessor>> CreateTemplate(const nlohmann::json& config) {
  if (!config.contains("single") || !config["single"].is_array()) {
    return absl::InvalidArgumentError("post_processor TemplateProcessing: missing \"single\"");
  }
  const nlohmann::json specials = config.value("special_tokens", nlohmann::json::object());
  std::vector<TemplatePostProcessor::Item> items;
  for (const auto& entry : config["single"]) {
    TemplatePostProcessor::Item item;
    if (entry.contains("Sequence")) {
      item.is_sequence = true;
    } else if (entry.contains("SpecialToken")) {
      const std::string name = entry["SpecialToken"].at("id").get<std::string>();
      if (!specials.contains(name) || !specials[name].contains("ids")) {
        return absl::InvalidArgumentError(absl::StrCat(
            "post_processor TemplateProcessing: special token \"", name, "\" has no ids"));
      }
      item.special_ids = specials[name]["ids"].get<std::vector<TokenId>>();
    } else {
      return absl::InvalidArgumentError(
          "post_processor TemplateProcessing: item is neither Sequence nor SpecialToken");
    }
    items.push_back(std::move(item));
  }
  return std::make_unique<TemplatePostProcessor>(std::move(items));
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostProcessor>> PostProcessor::Create(const nlohmann::json& config) {
  if (!config.is_object() || !config.contains("type") || !config["type"].is_string()) {
    return absl::InvalidArgumentError("post_processor: expected an object with a string \"type\"");
  }
  const std::string type = config["type"];
  if (type == "ByteLevel") return std::make_unique<PassThroughPostProcessor>();
  if (type == "TemplateProcessing") return CreateTemplate(config);
  if (type == "Sequence") {
    if (!config.contains("processors") || !config["processors"].is_array()) {
      return absl::InvalidArgumentError("post_processor Sequence: missing array \"processors\"");
    }
    std::vector<std::unique_ptr<PostProcessor>> steps;
    for (const auto& step : config["processors"]) {
      ASSIGN_OR_RETURN(auto processor, PostProcessor::Create(step));
      steps.push_back(std::move(processor));
    }
    return std::make_unique<SequencePostProcessor>(std::move(steps));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported post_processor type \"", type,
                   "\" (supported: TemplateProcessing, ByteLevel, Sequence)"));
}

}  // namespace junction
