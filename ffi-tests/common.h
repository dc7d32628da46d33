/* One line per case: "ok <name>" or "FAIL <name>: <why>"; main returns 1 if any failed. */
#ifndef TABSNAP_TEST_COMMON_H
#define TABSNAP_TEST_COMMON_H
#include <stdio.h>
static int failures = 0;
#define CHECK(name, cond, ...)                        \
  do {                                                \
    if (cond) {                                       \
      printf("ok %s\n", name);                        \
    } else {                                          \
      printf("FAIL %s: ", name);                      \
      printf(__VA_ARGS__);                            \
      printf("\n");                                   \
      failures++;                                     \
    }                                                 \
  } while (0)
#endif
