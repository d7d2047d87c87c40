#include "engine/tokenizer/utf8.h"

namespace junction::utf8 {

void Append(char32_t cp, std::string& out) {
  if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) cp = kReplacementChar;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

char32_t Next(std::string_view text, size_t* pos) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t b0 = byte(*pos);
  ++*pos;
  if (b0 < 0x80) return b0;
  int needed = 0;
  char32_t cp = 0;
  // Bounds for the second byte exclude overlongs, surrogates and values above U+10FFFF.
  uint8_t lower = 0x80, upper = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    needed = 1;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    needed = 2;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lower = 0xA0;
    if (b0 == 0xED) upper = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    needed = 3;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lower = 0x90;
    if (b0 == 0xF4) upper = 0x8F;
  } else {
    return kReplacementChar;
  }
  for (int i = 0; i < needed; ++i) {
    if (*pos >= text.size()) return kReplacementChar;
    const uint8_t b = byte(*pos);
    if (b < lower || b > upper) return kReplacementChar;
    lower = 0x80;
    upper = 0xBF;
    cp = (cp << 6) | (b & 0x3F);
    ++*pos;
  }
  return cp;
}

bool IsValid(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    if (Next(text, &pos) == kReplacementChar) {
      // U+FFFD itself is valid (EF BF BD); anything else that decodes to it is not.
      if (pos - start != 3 || text.substr(start, 3) != "\xEF\xBF\xBD") return false;
    }
  }
  return true;
}

std::string ToValidLossy(std::string_view bytes) {
  if (IsValid(bytes)) return std::string(bytes);
  std::string out;
  out.reserve(bytes.size() + 8);
  size_t pos = 0;
  while (pos < bytes.size()) Append(Next(bytes, &pos), out);
  return out;
}

size_t CompletePrefixLength(std::string_view text) {
  const size_t n = text.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const uint8_t lead = static_cast<uint8_t>(text[n - back]);
    if ((lead & 0xC0) == 0x80) continue;  // a continuation byte: keep looking for the lead
    size_t len = 1;
    uint8_t lower = 0x80, upper = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      len = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      len = 3;
      if (lead == 0xE0) lower = 0xA0;
      if (lead == 0xED) upper = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      len = 4;
      if (lead == 0xF0) lower = 0x90;
      if (lead == 0xF4) upper = 0x8F;
    }
    if (len <= back) return n;
    for (size_t i = 1; i < back; ++i) {
      const uint8_t b = static_cast<uint8_t>(text[n - back + i]);
      if (b < lower || b > upper) return n;
      lower = 0x80;
      upper = 0xBF;
    }
    return n - back;
  }
  return n;
}

std::vector<char32_t> Decode(std::string_view text) {
  std::vector<char32_t> out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) out.push_back(Next(text, &pos));
  return out;
}

std::string Encode(const std::vector<char32_t>& code_points) {
  std::string out;
  out.reserve(code_points.size());
  for (char32_t cp : code_points) Append(cp, out);
  return out;
}

}  // namespace junction::utf8
