// UTF-8 helpers shared by the tokenizer: code point iteration, lossy decoding, validation.
// All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace junction::utf8 {

inline constexpr char32_t kReplacementChar = 0xFFFD;

// Appends the UTF-8 encoding of `cp` to `out` (surrogates and values > 0x10FFFF become U+FFFD).
void Append(char32_t cp, std::string& out);

// Decodes one code point at `text[*pos]` and advances *pos. An ill-formed sequence yields
// U+FFFD and advances over its maximal subpart (the WHATWG / Unicode "best practice" rule,
// the one JavaScript's TextDecoder uses).
char32_t Next(std::string_view text, size_t* pos);

// Returns `bytes` with every ill-formed sequence replaced by U+FFFD (maximal subparts).
std::string ToValidLossy(std::string_view bytes);

// True when `text` is well-formed UTF-8.
bool IsValid(std::string_view text);

// Number of leading bytes of `text` that form complete code points; the rest is an incomplete
// (but so far well-formed) trailing sequence, at most 3 bytes.
size_t CompletePrefixLength(std::string_view text);

// Code points of a well-formed string.
std::vector<char32_t> Decode(std::string_view text);

std::string Encode(const std::vector<char32_t>& code_points);

}  // namespace junction::utf8
