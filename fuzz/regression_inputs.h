// The inputs the fuzz regression tests replay: every file of fuzz/corpus/<target>/ (the seeds)
// and fuzz/regressions/<target>/ (inputs that once crashed or broke a property; see
// docs/reliability.md). Used by tests/engine and tests/server fuzz_regressions_test.cc.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

namespace junction::fuzz {

struct RegressionInput {
  std::string path;
  std::string bytes;
};

// `repo_root` is the repository root; files are returned sorted by path.
inline std::vector<RegressionInput> RegressionInputs(const std::string& repo_root,
                                                     const std::string& target) {
  std::vector<RegressionInput> inputs;
  for (const char* folder : {"corpus", "regressions"}) {
    const std::filesystem::path dir = std::filesystem::path(repo_root) / "fuzz" / folder / target;
    if (!std::filesystem::is_directory(dir)) continue;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (!entry.is_regular_file()) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      inputs.push_back({entry.path().string(), std::string(std::istreambuf_iterator<char>(in),
                                                           std::istreambuf_iterator<char>())});
    }
  }
  std::sort(inputs.begin(), inputs.end(),
            [](const RegressionInput& a, const RegressionInput& b) { return a.path < b.path; });
  return inputs;
}

}  // namespace junction::fuzz
