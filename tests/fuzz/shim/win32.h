/* shim/win32.h - stands in for src/win32/win32.h when src/win32/quote.c (pure string code) is built
 * on Linux for fuzz_win32_quote: the declarations quote.c needs, without <windows.h>. */
#ifndef CP_FUZZ_WIN32_SHIM_H
#define CP_FUZZ_WIN32_SHIM_H

#include "internal.h"

#include <stdbool.h>
#include <wchar.h>

int win32_append_quoted(cp__buf *b, const char *arg);
int win32_make_cmdline(const char *const *argv, bool verbatim, char **out, cp_error *err);
int win32_make_bat_cmdline(const char *comspec, const char *script, const char *const *argv, bool verbatim,
                           char **out, cp_error *err);
bool win32_is_batch_file(const wchar_t *path);

#endif
