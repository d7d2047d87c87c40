// junction-cli: one-shot generation from a prompt or token ids, logits dumps, tokenizer tools.
#include <cstdio>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "clients/cli/batch_command.h"
#include "clients/cli/cli_options.h"
#include "clients/cli/model_session.h"

namespace {

int Fail(const absl::Status& status) {
  std::string message(status.message());
  for (char& c : message)
    if (c == '\n') c = ' ';
  std::fprintf(stderr, "junction-cli: error: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace junction;
  auto options = cli::ParseCliOptions(argc, argv);
  if (!options.ok()) {
    if (absl::IsNotFound(options.status())) {
      std::cout << options.status().message();
      return 0;
    }
    std::fprintf(stderr, "junction-cli: error: %s\n(see junction-cli --help)\n",
                 std::string(options.status().message()).c_str());
    return 2;
  }
  if (options->tokenize_file || options->detokenize_file) return cli::RunTokenizerTool(*options);
  if (options->batch_file) {
    absl::Status status = cli::RunBatchCommand(*options);
    return status.ok() ? 0 : Fail(status);
  }
  auto session = cli::ModelSession::Open(*options);
  if (!session.ok()) return Fail(session.status());
  absl::Status status;
  if (options->dump_logits) {
    status = (*session)->DumpLogits(*options);
  } else {
    status = (*session)->RunOne(*options);
  }
  return status.ok() ? 0 : Fail(status);
}
