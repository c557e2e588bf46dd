/* quote.c - command lines for CreateProcessW: arguments quoted for the MSVCRT / CommandLineToArgvW
 * rules, and the cmd.exe line that runs a .bat/.cmd file with its arguments escaped so that cmd.exe
 * can neither start another command nor expand a variable from them (the "BatBadBut" class,
 * CVE-2024-27980 / CVE-2024-24576). Everything here works on UTF-8: every character these rules
 * care about is ASCII, and UTF-8 never hides an ASCII byte inside a multi-byte character. */
#include "win32.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

static int put(cp__buf *b, const char *s, size_t n) { return cp__buf_append(b, s, n); }
static int putc1(cp__buf *b, char c) { return cp__buf_append(b, &c, 1); }

static int put_backslashes(cp__buf *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (putc1(b, '\\')) return CP_ENOMEM;
  return 0;
}

/* The MSVCRT rules, as the C runtime (and CommandLineToArgvW) split a command line after the
 * program name: space and tab separate arguments outside quotes; 2n backslashes before a quote give
 * n backslashes and the quote opens or closes a quoted part; 2n+1 backslashes before a quote give n
 * backslashes and a literal quote; backslashes anywhere else are literal. So an argument is wrapped
 * in quotes when it is empty or holds white space (newline and vertical tab included, which some
 * parsers also split on), every quote in it gets a backslash, the backslashes right before a quote
 * or before the closing quote are doubled. */
int win32_append_quoted(cp__buf *b, const char *arg) {
  bool quote = !*arg || strpbrk(arg, " \t\n\v") != NULL;
  if (!quote && !strchr(arg, '"')) return put(b, arg, strlen(arg));
  if (quote && putc1(b, '"')) return CP_ENOMEM;
  size_t backslashes = 0;
  for (const char *p = arg; *p; p++) {
    if (*p == '\\') {
      backslashes++;
      continue;
    }
    if (*p == '"') {
      if (put_backslashes(b, backslashes * 2 + 1)) return CP_ENOMEM;
    } else if (put_backslashes(b, backslashes)) {
      return CP_ENOMEM;
    }
    backslashes = 0;
    if (putc1(b, *p)) return CP_ENOMEM;
  }
  if (put_backslashes(b, quote ? backslashes * 2 : backslashes)) return CP_ENOMEM;
  if (quote && putc1(b, '"')) return CP_ENOMEM;
  return 0;
}

/* argv[0] follows another rule: a leading quote runs to the next quote, with no escapes at all,
 * else the name runs to the first space or tab. A quote inside it cannot be expressed. */
static int append_program(cp__buf *b, const char *arg0, cp_error *err) {
  if (strchr(arg0, '"'))
    return cp__error_setf(
        err, CP_EINVAL, 0, "spawn", NULL,
        "spawn EINVAL: argv[0] \"%.200s\" holds a double quote, which a Windows command line "
        "cannot carry in the program name",
        arg0);
  bool quote = !*arg0 || strpbrk(arg0, " \t") != NULL;
  if (quote && putc1(b, '"')) return CP_ENOMEM;
  if (put(b, arg0, strlen(arg0))) return CP_ENOMEM;
  if (quote && putc1(b, '"')) return CP_ENOMEM;
  return 0;
}

static int finish(cp__buf *b, char **out) {
  if (cp__buf_reserve(b, 0)) return CP_ENOMEM; /* a NUL-terminated string even when empty */
  *out = b->data;
  b->data = NULL;
  return 0;
}

int win32_make_cmdline(const char *const *argv, bool verbatim, char **out, cp_error *err) {
  cp__buf b = {0};
  int rc = 0;
  *out = NULL;
  for (size_t i = 0; argv[i]; i++) {
    if (i && putc1(&b, ' ')) goto oom;
    if (verbatim)
      rc = put(&b, argv[i], strlen(argv[i]));
    else if (i == 0)
      rc = append_program(&b, argv[i], err);
    else
      rc = win32_append_quoted(&b, argv[i]);
    if (rc == CP_ENOMEM) goto oom;
    if (rc) goto fail;
  }
  if (finish(&b, out)) goto oom;
  return 0;
oom:
  rc = cp__error_set(err, CP_ENOMEM, 0, "spawn", NULL);
fail:
  cp__buf_free(&b);
  return rc;
}

/* An argument for a batch file, seen through two parsers in turn: cmd.exe reads the whole /c line
 * first (quotes toggle a "quoted" state in which & | < > ^ ( ) are literal; %NAME% expands
 * everywhere), then the batch file hands the text to its commands, usually a program that splits it
 * with the MSVCRT rules. So:
 *  - Only arguments made of letters, digits and # $ * + - . / : ? @ \ _ go unquoted; anything else
 *    (every other ASCII symbol, control characters, non-ASCII) is quoted, and so is an empty
 *    argument and one ending in a backslash (which a "%~1" in the script would glue to its quote).
 *  - Inside the quotes a '"' is doubled: cmd.exe leaves and re-enters its quoted state, so what
 *    follows stays literal, and the MSVCRT rules read "" inside quotes as one quote. Backslashes
 *    before a quote (and before the closing quote) are doubled for the MSVCRT rules.
 *  - '%' becomes %%cd:~,% : "%cd:~,%" is an empty substring of %CD% (it needs /e:ON), which splits
 *    any %NAME% apart so nothing expands, and leaves one '%' behind.
 *  - CR and LF end the command line in cmd.exe whatever the quoting: refused by the caller.
 * With /v:OFF, '!' is literal; with /d, no AutoRun command runs first. */
static const char pct[] = "%%cd:~,%";

static bool bat_safe_char(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c && strchr("#$*+-./:?@\\_", c) != NULL;
}

static int append_bat_arg(cp__buf *b, const char *arg) {
  size_t len = strlen(arg);
  bool quote = len == 0 || arg[len - 1] == '\\';
  for (size_t i = 0; i < len && !quote; i++)
    if (!bat_safe_char((unsigned char)arg[i])) quote = true;
  if (quote && putc1(b, '"')) return CP_ENOMEM;
  size_t backslashes = 0;
  for (const char *p = arg; *p; p++) {
    if (*p == '\\') {
      backslashes++;
      if (putc1(b, '\\')) return CP_ENOMEM;
      continue;
    }
    if (*p == '"') {
      if (put_backslashes(b, backslashes) || put(b, "\"\"", 2)) return CP_ENOMEM;
    } else if (*p == '%') {
      if (put(b, pct, sizeof pct - 1)) return CP_ENOMEM;
    } else if (putc1(b, *p)) {
      return CP_ENOMEM;
    }
    backslashes = 0;
  }
  if (quote && (put_backslashes(b, backslashes) || putc1(b, '"'))) return CP_ENOMEM;
  return 0;
}

int win32_make_bat_cmdline(const char *comspec, const char *script, const char *const *argv, bool verbatim,
                           char **out, cp_error *err) {
  cp__buf b = {0};
  int rc;
  *out = NULL;
  if (strchr(script, '"'))
    return cp__error_setf(err, CP_EINVAL, 0, "spawn", script,
                          "spawn EINVAL: the batch file path \"%.200s\" holds a double quote, which cmd.exe "
                          "cannot be given safely",
                          script);
  for (size_t i = 1; argv[i] && !verbatim; i++) {
    if (strpbrk(argv[i], "\r\n"))
      return cp__error_setf(err, CP_EINVAL, 0, "spawn", script,
                            "spawn EINVAL: argument %zu of batch file %.200s holds a line break (CR or LF), "
                            "which cmd.exe cannot be given safely",
                            i, script);
  }
  /* The interpreter's own name is never parsed by cmd.exe itself; quote it if it has spaces. */
  rc = strchr(comspec, '"') ? CP_EINVAL : 0;
  if (rc)
    return cp__error_setf(err, CP_EINVAL, 0, "spawn", comspec,
                          "spawn EINVAL: the command interpreter path %.200s holds a double quote", comspec);
  bool q = strpbrk(comspec, " \t") != NULL;
  if ((q && putc1(&b, '"')) || put(&b, comspec, strlen(comspec)) || (q && putc1(&b, '"'))) goto oom;
  /* /s: strip exactly the first and the last quote of what follows /c, whatever is between. */
  static const char flags[] = " /d /e:ON /v:OFF /s /c \"\"";
  if (put(&b, flags, sizeof flags - 1)) goto oom;
  for (const char *p = script; *p; p++) {
    if (*p == '%' ? put(&b, pct, sizeof pct - 1) : putc1(&b, *p)) goto oom;
  }
  if (putc1(&b, '"')) goto oom;
  for (size_t i = 1; argv[i]; i++) {
    if (putc1(&b, ' ')) goto oom;
    rc = verbatim ? put(&b, argv[i], strlen(argv[i])) : append_bat_arg(&b, argv[i]);
    if (rc) goto oom;
  }
  if (putc1(&b, '"') || finish(&b, out)) goto oom;
  return 0;
oom:
  cp__buf_free(&b);
  return cp__error_set(err, CP_ENOMEM, 0, "spawn", NULL);
}

bool win32_is_batch_file(const wchar_t *path) {
  size_t n = wcslen(path);
  while (n && (path[n - 1] == L'.' || path[n - 1] == L' ')) n--;
  if (n < 4 || path[n - 4] != L'.') return false;
  wchar_t ext[4];
  for (int i = 0; i < 3; i++) {
    wchar_t c = path[n - 3 + i];
    ext[i] = c >= L'A' && c <= L'Z' ? (wchar_t)(c - L'A' + L'a') : c;
  }
  ext[3] = L'\0';
  return wcscmp(ext, L"bat") == 0 || wcscmp(ext, L"cmd") == 0;
}
