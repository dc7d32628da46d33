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

/* Writes `n` bytes of lower-case letters (a pattern that depends on `seed`) to `path`. */
static inline void write_file(const char *path, size_t n, unsigned seed) {
  FILE *f = fopen(path, "wb");
  for (size_t i = 0; i < n; i++) fputc((int)('a' + (seed * 31 + i * 7 + i / 100) % 26), f);
  fclose(f);
}

/* Whether the files `a` and `b` both exist and hold the same bytes. */
static inline int same_file(const char *a, const char *b) {
  FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
  int same = fa && fb;
  while (same) {
    int ca = fgetc(fa), cb = fgetc(fb);
    if (ca != cb) same = 0;
    if (ca == EOF || cb == EOF) break;
  }
  if (fa) fclose(fa);
  if (fb) fclose(fb);
  return same;
}
#endif
