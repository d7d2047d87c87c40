// junction-tokenizer-bench DIR TEXT_FILE [REPEATS]: encode throughput of one tokenizer on one
// text (the whole file as one string, no special tokens). Prints one JSON line with the best
// of REPEATS runs; bench/tokenizer_throughput.sh runs it beside the node oracle.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "engine/tokenizer/tokenizer.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: junction-tokenizer-bench DIR TEXT_FILE [REPEATS]\n";
    return 2;
  }
  const int repeats = argc > 3 ? std::max(1, std::atoi(argv[3])) : 5;
  auto tokenizer = junction::Tokenizer::Load(argv[1]);
  if (!tokenizer.ok()) {
    std::cerr << "error: " << tokenizer.status().message() << "\n";
    return 1;
  }
  std::ifstream in(argv[2], std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  double best_s = 1e30;
  size_t num_tokens = 0;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    num_tokens = (*tokenizer)->Encode(text, /*add_special_tokens=*/false).size();
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    best_s = std::min(best_s, elapsed.count());
  }
  const double mb = static_cast<double>(text.size()) / 1e6;
  std::cout << "{\"impl\": \"junction\", \"bytes\": " << text.size()
            << ", \"tokens\": " << num_tokens << ", \"best_s\": " << best_s
            << ", \"mb_per_s\": " << mb / best_s << "}\n";
  return 0;
}
