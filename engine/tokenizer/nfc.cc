#include "engine/tokenizer/nfc.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "engine/tokenizer/unicode_tables.h"
#include "engine/tokenizer/utf8.h"

namespace junction {
namespace {

using namespace unicode_tables;

constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr int kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount,
              kSCount = kLCount * kNCount;

int CombiningClassOf(char32_t cp) {
  if (cp < 0x300) return 0;
  const auto* end = kCombiningClasses + kNumCombiningClasses;
  const auto* it =
      std::lower_bound(kCombiningClasses, end, cp,
                       [](const CombiningClass& c, char32_t v) { return c.code_point < v; });
  return it != end && it->code_point == cp ? it->ccc : 0;
}

const Decomposition* FindDecomposition(char32_t cp) {
  const auto* end = kDecompositions + kNumDecompositions;
  const auto* it =
      std::lower_bound(kDecompositions, end, cp,
                       [](const Decomposition& d, char32_t v) { return d.code_point < v; });
  return it != end && it->code_point == cp ? it : nullptr;
}

void DecomposeInto(char32_t cp, std::vector<char32_t>& out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const int s = static_cast<int>(cp - kSBase);
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out.push_back(kTBase + s % kTCount);
    return;
  }
  const Decomposition* d = cp >= 0xC0 ? FindDecomposition(cp) : nullptr;
  if (d == nullptr) {
    out.push_back(cp);
    return;
  }
  DecomposeInto(d->first, out);
  if (d->second != 0) DecomposeInto(d->second, out);
}

// Returns the primary composite of (a, b), or 0 when there is none.
char32_t Compose(char32_t a, char32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount) {
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  }
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
      b < kTBase + kTCount) {
    return a + (b - kTBase);
  }
  const auto* end = kCompositions + kNumCompositions;
  const auto* it = std::lower_bound(kCompositions, end, std::pair(a, b),
                                    [](const Composition& c, std::pair<char32_t, char32_t> v) {
                                      return std::pair<char32_t, char32_t>(c.first, c.second) < v;
                                    });
  return it != end && it->first == a && it->second == b ? it->code_point : 0;
}

void SortCombiningMarks(std::vector<char32_t>& cps) {
  // Stable sort of each run of non-starters by combining class (canonical ordering).
  size_t i = 0;
  while (i < cps.size()) {
    if (CombiningClassOf(cps[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < cps.size() && CombiningClassOf(cps[j]) != 0) ++j;
    std::stable_sort(cps.begin() + i, cps.begin() + j, [](char32_t a, char32_t b) {
      return CombiningClassOf(a) < CombiningClassOf(b);
    });
    i = j;
  }
}

void ComposeInPlace(std::vector<char32_t>& cps) {
  if (cps.empty()) return;
  size_t starter = 0;
  bool have_starter = CombiningClassOf(cps[0]) == 0;
  int last_ccc = have_starter ? 0 : 256;
  size_t out = 1;
  for (size_t i = 1; i < cps.size(); ++i) {
    const char32_t cp = cps[i];
    const int ccc = CombiningClassOf(cp);
    // Blocked when a character between the starter and cp has ccc == 0 or >= ccc.
    const bool blocked = out - 1 != starter && (last_ccc == 0 || last_ccc >= ccc);
    if (have_starter && !blocked) {
      if (const char32_t composed = Compose(cps[starter], cp); composed != 0) {
        cps[starter] = composed;
        continue;
      }
    }
    if (ccc == 0) {
      starter = out;
      have_starter = true;
    }
    last_ccc = ccc;
    cps[out++] = cp;
  }
  cps.resize(out);
}

}  // namespace

std::string NormalizeNfc(std::string_view text) {
  // Code points below U+0300 (other than those with decompositions, which start at U+00C0)
  // are NFC-stable and never combine with a preceding character: a cheap exit for them.
  bool simple = true;
  for (unsigned char c : text) {
    if (c >= 0xC3) {
      simple = false;
      break;
    }
  }
  if (simple) return std::string(text);
  std::vector<char32_t> cps;
  cps.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) DecomposeInto(utf8::Next(text, &pos), cps);
  SortCombiningMarks(cps);
  ComposeInPlace(cps);
  return utf8::Encode(cps);
}

}  // namespace junction
