/*
 * tabsnap.h — the C ABI of tabsnap.
 *
 * Generated from the Rust sources by cbindgen; do not edit. See README.md, "C API conventions".
 */

#ifndef TABSNAP_H
#define TABSNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TABSNAP_VERSION "0.1.0"
#define TABSNAP_VERSION_MAJOR 0
#define TABSNAP_VERSION_MINOR 1
#define TABSNAP_VERSION_PATCH 0
/* MAJOR * 1000000 + MINOR * 1000 + PATCH */
#define TABSNAP_VERSION_NUMBER 1000


#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * The library's version as a static NUL-terminated string, e.g. `"0.1.0"`.
 *
 * Compare with the `TABSNAP_VERSION` macro to detect a header/library mismatch.
 *
 * Ownership: the string is static; never free it. Thread safety: safe from any thread.
 */
const char *tabsnap_version(void);

/**
 * The library's version as `MAJOR * 1000000 + MINOR * 1000 + PATCH`.
 *
 * Equal to `TABSNAP_VERSION_NUMBER` when the header and the library match. Thread safety: safe from any thread.
 */
uint32_t tabsnap_version_number(void);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* TABSNAP_H */
