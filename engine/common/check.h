// JUNCTION_CHECK: programming invariants. A failed check prints the condition and a message and
// aborts; it is for bugs, never for bad input (bad input returns absl::Status).
#pragma once

#include <cstdio>
#include <cstdlib>

#define JUNCTION_CHECK(cond, ...)                                                  \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      std::fprintf(stderr, "%s:%d: check failed: %s", __FILE__, __LINE__, #cond);   \
      std::fprintf(stderr, ": " __VA_ARGS__);                                      \
      std::fprintf(stderr, "\n");                                                  \
      std::abort();                                                                \
    }                                                                              \
  } while (0)
