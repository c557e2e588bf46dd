/* fuzz_win32_quote.c - libFuzzer target for the Windows command lines (src/win32/quote.c, built on
 * Linux through a shim header: it is pure string code):
 *  1. win32_make_cmdline() then a model of the MSVCRT / CommandLineToArgvW parser must give back
 *     exactly the arguments (quote then parse = identity);
 *  2. win32_make_bat_cmdline() then a model of cmd.exe's parse of the /c line must show no
 *     metacharacter outside quotes and no %NAME% expansion an argument could have formed, or the
 *     call refused the input (CR/LF) with CP_EINVAL.
 * Input: up to 16 arguments separated by NUL bytes. */
#include "shim/win32.h"

#include "crt_model.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 16

/* cmd.exe reading "cmd /d /e:ON /v:OFF /s /c "<rest>"": /s strips the first and the last quote; then
 * quotes toggle a quoted state in which & | < > ( ) ^ are literal, ^ escapes outside it, and %NAME%
 * expands everywhere. Returns false if an argument could start a command or expand a variable. */
static bool cmd_line_is_safe(const char *line) {
  const char *c = strstr(line, " /c ");
  if (!c) return false;
  const char *rest = c + 4;
  size_t n = strlen(rest);
  if (n < 2 || rest[0] != '"' || rest[n - 1] != '"') return false;
  rest++, n -= 2;
  bool inq = false;
  for (size_t i = 0; i < n; i++) {
    char ch = rest[i];
    if (ch == '%') {
      const char *close = memchr(rest + i + 1, '%', n - i - 1);
      if (!close) continue; /* a lone % stays literal */
      size_t name_len = (size_t)(close - (rest + i + 1));
      if (name_len == 0) continue; /* "%%": the first stays literal, the scan goes on at the second */
      if (name_len != 5 || memcmp(rest + i + 1, "cd:~,", 5) != 0) return false; /* a real %NAME% */
      i += 1 + name_len; /* %cd:~,% expands to nothing */
      continue;
    }
    if (ch == '"') {
      inq = !inq;
    } else if (!inq) {
      if (ch == '^') {
        i++;
      } else if (strchr("&|<>()", ch)) {
        return false;
      }
    }
  }
  return !inq; /* every quote an argument opened was closed */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *buf = malloc(size + 1);
  memcpy(buf, data, size);
  buf[size] = '\0';
  const char *argv[MAX_ARGS + 2] = {"prog"};
  size_t argc = 1;
  for (size_t off = 0; off <= size && argc <= MAX_ARGS; argc++) {
    argv[argc] = buf + off;
    off += strlen(buf + off) + 1;
  }
  argv[argc] = NULL;

  cp_error err;
  memset(&err, 0, sizeof err);
  char *line = NULL;
  if (win32_make_cmdline(argv, false, &line, &err) != 0) abort(); /* only argv[0] can be refused */
  char *parsed[MAX_ARGS + 1];
  size_t n = crt_model_split(line, parsed, MAX_ARGS + 1);
  if (n != argc - 1) abort();
  for (size_t i = 0; i < n; i++) {
    if (strcmp(parsed[i], argv[i + 1]) != 0) abort();
    free(parsed[i]);
  }
  free(line);

  bool has_break = false;
  for (size_t i = 1; i < argc; i++) has_break |= strpbrk(argv[i], "\r\n") != NULL;
  int rc = win32_make_bat_cmdline("C:\\Windows\\system32\\cmd.exe", "C:\\dir with space\\t.bat", argv, false, &line,
                                  &err);
  if (has_break) {
    if (rc != CP_EINVAL || err.message[0] == '\0') abort();
  } else {
    if (rc != 0 || !cmd_line_is_safe(line)) abort();
    free(line);
  }
  cp__error_clear(&err);
  free(buf);
  return 0;
}
