/* crt_model.h - a model of how the Microsoft C runtime (and CommandLineToArgvW) splits a command
 * line into arguments, for the quoting tests under Wine and the quoting fuzz target. Header-only (a
 * static function) so the native fuzz build and the mingw test build share one model.
 *
 * The program name runs to the closing quote, or to white space, with no escapes. After it: white
 * space separates arguments outside quotes; 2n backslashes before a quote give n backslashes and the
 * quote toggles the quoted state, 2n+1 give n backslashes and a literal quote; "" inside quotes is a
 * literal quote (msvcrt 2008 and later); other backslashes are literal. */
#ifndef CPTEST_CRT_MODEL_H
#define CPTEST_CRT_MODEL_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Splits line into at most max malloc()ed arguments (the program name left out); returns how many.
 * NULL entries mean out of memory. */
static size_t crt_model_split(const char *p, char **out, size_t max) {
  if (*p == '"') {
    p++;
    while (*p && *p != '"') p++;
    if (*p) p++;
  } else {
    while (*p && *p != ' ' && *p != '\t') p++;
  }
  size_t n = 0;
  for (;;) {
    while (*p == ' ' || *p == '\t') p++;
    if (!*p || n == max) break;
    char *a = malloc(strlen(p) + 1), *w = a;
    bool inq = false;
    while (*p && (inq || (*p != ' ' && *p != '\t'))) {
      size_t bs = 0;
      while (*p == '\\') bs++, p++;
      if (*p == '"') {
        for (size_t i = 0; w && i < bs / 2; i++) *w++ = '\\';
        if (bs % 2) {
          if (w) *w++ = '"';
        } else if (inq && p[1] == '"') {
          if (w) *w++ = '"';
          p++;
        } else {
          inq = !inq;
        }
        p++;
      } else {
        for (size_t i = 0; w && i < bs; i++) *w++ = '\\';
        if (*p && (inq || (*p != ' ' && *p != '\t'))) {
          if (w) *w++ = *p;
          p++;
        }
      }
    }
    if (w) *w = '\0';
    out[n++] = a;
  }
  return n;
}

#endif /* CPTEST_CRT_MODEL_H */
