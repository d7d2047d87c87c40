// Streaming detokenization for one request: turns sampled ids into text deltas that never end
// in the middle of a UTF-8 sequence, and cuts the stream at the first stop string, even when it
// spans several tokens. The concatenation of all Add(...).text and Flush() equals
// Tokenizer::Decode(all ids, skip_special_tokens, /*clean_up_tokenization_spaces=*/false),
// truncated before the first stop string.
//
// Not thread-safe (one per request, used by one thread). The Tokenizer must outlive it.
#pragma once

#include <string>
#include <vector>

#include "engine/common/ids.h"
#include "engine/tokenizer/tokenizer.h"

namespace junction {

class IncrementalDecoder {
 public:
  // Empty stop strings are ignored.
  IncrementalDecoder(const Tokenizer& tokenizer, std::vector<std::string> stop_strings,
                     bool skip_special_tokens);

  struct Piece {
    std::string text;      // safe to emit now
    bool stopped = false;  // a stop string matched; `text` ends right before it
  };

  // Adds one id. Text is held back while it ends in an incomplete UTF-8 sequence or could be
  // the beginning of a stop string. After a stop, returns {"", true} for every further id.
  Piece Add(TokenId id);

  // Returns whatever is still held back at the end of the stream (an incomplete sequence
  // comes out as U+FFFD, as Decode would write it). Empty after a stop.
  std::string Flush();

  bool stopped() const { return stopped_; }
  // The stop string that matched ("" when none did).
  const std::string& matched_stop_string() const { return matched_stop_; }

 private:
  // Moves text from pending_ to the returned piece, keeping back a possible stop-string start.
  Piece Release(bool end_of_stream);

  const Tokenizer& tokenizer_;
  std::vector<std::string> stop_strings_;
  bool skip_special_tokens_;
  std::vector<TokenId> ids_;
  // ids_[prefix_offset_, read_offset_) were decoded already; decoding restarts at
  // prefix_offset_ so that decoders which look at the first token (Strip, Metaspace) agree.
  size_t prefix_offset_ = 0;
  size_t read_offset_ = 0;
  std::string pending_;  // decoded, not yet emitted
  bool stopped_ = false;
  std::string matched_stop_;
};

}  // namespace junction
