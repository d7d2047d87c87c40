// junction-cli --tokenizer DIR --tokenize FILE | --detokenize FILE.
#pragma once

#include <string>

namespace junction {

// --tokenize: for each line of `file` (without its newline) prints one JSON array of ids,
// with no special tokens added. --detokenize (`detokenize` true): each line of `file` is a
// JSON array of ids; prints one JSON string per line (special tokens kept). Output goes to
// stdout; an error is one line on stderr. Returns the process exit code (0 on success).
int RunTokenizeCommand(const std::string& tokenizer_dir, const std::string& file, bool detokenize);

}  // namespace junction
