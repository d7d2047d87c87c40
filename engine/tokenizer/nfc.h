// Unicode NFC normalization (canonical decomposition, canonical ordering, canonical
// composition), with tables from tools/gen_unicode_tables.py. Pure and thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace junction {

// Returns the NFC form of well-formed UTF-8 `text`. ASCII-only input is returned unchanged
// without touching the tables.
std::string NormalizeNfc(std::string_view text);

}  // namespace junction
