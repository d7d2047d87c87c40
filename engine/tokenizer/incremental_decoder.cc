#include "engine/tokenizer/incremental_decoder.h"

#include <span>

namespace junction {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

bool EndsWithReplacement(const std::string& text) {
  return text.size() >= 3 && std::string_view(text).substr(text.size() - 3) == kReplacement;
}

}  // namespace

IncrementalDecoder::IncrementalDecoder(const Tokenizer& tokenizer,
                                       std::vector<std::string> stop_strings,
                                       bool skip_special_tokens)
    : tokenizer_(tokenizer), skip_special_tokens_(skip_special_tokens) {
  for (std::string& stop : stop_strings) {
    if (!stop.empty()) stop_strings_.push_back(std::move(stop));
  }
}

IncrementalDecoder::Piece IncrementalDecoder::Add(TokenId id) {
  if (stopped_) return {"", true};
  ids_.push_back(id);
  const std::span<const TokenId> all(ids_);
  const std::string prefix_text = tokenizer_.Decode(
      all.subspan(prefix_offset_, read_offset_ - prefix_offset_), skip_special_tokens_, false);
  const std::string new_text =
      tokenizer_.Decode(all.subspan(prefix_offset_), skip_special_tokens_, false);
  // A trailing U+FFFD means the last token ended inside a UTF-8 sequence: wait for more bytes.
  if (new_text.size() > prefix_text.size() && !EndsWithReplacement(new_text) &&
      new_text.compare(0, prefix_text.size(), prefix_text) == 0) {
    pending_ += new_text.substr(prefix_text.size());
    prefix_offset_ = read_offset_;
    read_offset_ = ids_.size();
  }
  return Release(/*end_of_stream=*/false);
}

std::string IncrementalDecoder::Flush() {
  if (stopped_) return "";
  const std::span<const TokenId> all(ids_);
  const std::string prefix_text = tokenizer_.Decode(
      all.subspan(prefix_offset_, read_offset_ - prefix_offset_), skip_special_tokens_, false);
  const std::string new_text =
      tokenizer_.Decode(all.subspan(prefix_offset_), skip_special_tokens_, false);
  if (new_text.size() > prefix_text.size()) pending_ += new_text.substr(prefix_text.size());
  prefix_offset_ = read_offset_ = ids_.size();
  return Release(/*end_of_stream=*/true).text;
}

IncrementalDecoder::Piece IncrementalDecoder::Release(bool end_of_stream) {
  size_t first_match = std::string::npos;
  for (const std::string& stop : stop_strings_) {
    const size_t pos = pending_.find(stop);
    if (pos < first_match) {
      first_match = pos;
      matched_stop_ = stop;
    }
  }
  if (first_match != std::string::npos) {
    Piece piece{pending_.substr(0, first_match), true};
    pending_.clear();
    stopped_ = true;
    return piece;
  }
  size_t keep_from = pending_.size();
  if (!end_of_stream) {
    // The earliest suffix of pending_ that is a proper prefix of some stop string.
    for (size_t start = 0; start < pending_.size() && keep_from == pending_.size(); ++start) {
      const std::string_view suffix = std::string_view(pending_).substr(start);
      for (const std::string& stop : stop_strings_) {
        if (stop.size() > suffix.size() &&
            std::string_view(stop).substr(0, suffix.size()) == suffix) {
          keep_from = start;
          break;
        }
      }
    }
  }
  Piece piece{pending_.substr(0, keep_from), false};
  pending_.erase(0, keep_from);
  return piece;
}

}  // namespace junction
