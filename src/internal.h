/* internal.h - helpers shared by the platform-free code and both backends (not public). */
#ifndef CP_INTERNAL_H
#define CP_INTERNAL_H

#include "childproc.h"

#include <stdarg.h>
#include <stddef.h>

#if defined(__MINGW32__) && !defined(__clang__)
/* mingw builds use its C99 printf (__USE_MINGW_ANSI_STDIO), not msvcrt's: check against that one. */
#define CP_PRINTF(f, a) __attribute__((format(gnu_printf, f, a)))
#elif defined(__GNUC__)
#define CP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CP_PRINTF(f, a)
#endif

/* Fills *err (if not NULL): code, the OS error behind it, the static syscall name, a copy of path
 * (NULL allowed) and the message "<syscall> <path> <NAME>: <strerror>". Any previous path is freed.
 * Returns code, so callers can write `return cp__error_set(...)`. */
int cp__error_set(cp_error *err, int code, int os_error, const char *syscall, const char *path);

/* As cp__error_set(), with a message made from fmt instead of the default one. */
int cp__error_setf(cp_error *err, int code, int os_error, const char *syscall, const char *path,
                   const char *fmt, ...) CP_PRINTF(6, 7);

/* Frees the path and zeroes the error. */
void cp__error_clear(cp_error *err);

/* A growable byte buffer; geometric growth, always NUL-terminated once allocated. */
typedef struct cp__buf {
  char *data;
  size_t len;
  size_t cap;
} cp__buf;

int cp__buf_append(cp__buf *b, const void *p, size_t n);
int cp__buf_reserve(cp__buf *b, size_t extra);
void cp__buf_free(cp__buf *b);

/* strdup that returns NULL on NULL. */
char *cp__strdup(const char *s);

#endif /* CP_INTERNAL_H */
