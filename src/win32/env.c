/* env.c - the environment (ours as UTF-8, the child's as a sorted UTF-16 block), variable names
 * (case-insensitive), the shell command line, this program's path and handle checks (Windows). */
#include "win32.h"

#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* Our environment from GetEnvironmentStringsW(), as UTF-8. The "=C:=C:\dir" entries Windows keeps
 * for the per-drive current directories are kept too: cmd.exe and the C runtime pass them on to
 * children the same way. */
void os_environ_free(char **env) {
  if (!env) return;
  for (size_t i = 0; env[i]; i++) free(env[i]);
  free(env);
}

int os_environ_get(char ***out) {
  *out = NULL;
  wchar_t *block = GetEnvironmentStringsW();
  if (!block) return CP_ENOMEM;
  size_t n = 0;
  for (wchar_t *p = block; *p; p += wcslen(p) + 1) n++;
  char **env = calloc(n + 1, sizeof *env);
  if (!env) {
    FreeEnvironmentStringsW(block);
    return CP_ENOMEM;
  }
  size_t i = 0;
  for (wchar_t *p = block; *p; p += wcslen(p) + 1) {
    env[i] = win32_utf8(p, -1);
    if (!env[i]) {
      FreeEnvironmentStringsW(block);
      os_environ_free(env);
      return CP_ENOMEM;
    }
    i++;
  }
  FreeEnvironmentStringsW(block);
  *out = env;
  return 0;
}

/* Names compare as Windows compares them: ordinal, ignoring case (CompareStringOrdinal), with a
 * plain ASCII fold for the common all-ASCII case. */
bool os_env_name_eq(const char *a, size_t alen, const char *b, size_t blen) {
  bool ascii = true;
  for (size_t i = 0; i < alen; i++) ascii &= (unsigned char)a[i] < 0x80;
  for (size_t i = 0; i < blen; i++) ascii &= (unsigned char)b[i] < 0x80;
  if (ascii) {
    if (alen != blen) return false;
    for (size_t i = 0; i < alen; i++) {
      unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
      if (x >= 'a' && x <= 'z') x = (unsigned char)(x - 32);
      if (y >= 'a' && y <= 'z') y = (unsigned char)(y - 32);
      if (x != y) return false;
    }
    return true;
  }
  if (alen > INT_MAX / 2 || blen > INT_MAX / 2) return false;
  int wa = MultiByteToWideChar(CP_UTF8, 0, a, (int)alen, NULL, 0);
  int wb = MultiByteToWideChar(CP_UTF8, 0, b, (int)blen, NULL, 0);
  wchar_t *x = malloc(((size_t)wa + (size_t)wb + 2) * sizeof *x);
  if (!x) return alen == blen && memcmp(a, b, alen) == 0;
  wchar_t *y = x + wa + 1;
  MultiByteToWideChar(CP_UTF8, 0, a, (int)alen, x, wa);
  MultiByteToWideChar(CP_UTF8, 0, b, (int)blen, y, wb);
  bool eq = CompareStringOrdinal(x, wa, y, wb, TRUE) == CSTR_EQUAL;
  free(x);
  return eq;
}

/* ---- the child's environment block ---- */

typedef struct env_entry {
  wchar_t *s;
  size_t name_len; /* units before the '=' that ends the name (a leading '=' belongs to the name) */
  size_t index;    /* position in envp: later entries win over earlier ones of the same name */
} env_entry;

static size_t name_len_of(const wchar_t *s) {
  const wchar_t *eq = wcschr(s + (s[0] == L'='), L'=');
  return eq ? (size_t)(eq - s) : wcslen(s);
}

static int compare_names(const wchar_t *a, size_t alen, const wchar_t *b, size_t blen) {
  return CompareStringOrdinal(a, (int)alen, b, (int)blen, TRUE) - CSTR_EQUAL;
}

static int entry_cmp(const void *pa, const void *pb) {
  const env_entry *a = pa, *b = pb;
  int c = compare_names(a->s, a->name_len, b->s, b->name_len);
  if (c) return c;
  return a->index < b->index ? -1 : a->index > b->index;
}

/* What Windows programs need to work at all (winsock without SYSTEMROOT fails, for one), taken from
 * our environment when the child's lacks them: libuv's list. */
static const wchar_t *const required_vars[] = {L"HOMEDRIVE",   L"HOMEPATH",    L"LOGONSERVER", L"PATH",
                                               L"SYSTEMDRIVE", L"SYSTEMROOT",  L"TEMP",        L"USERDOMAIN",
                                               L"USERNAME",    L"USERPROFILE", L"WINDIR"};
#define N_REQUIRED (sizeof required_vars / sizeof required_vars[0])

int win32_make_env_block(const char *const *envp, wchar_t **out) {
  *out = NULL;
  size_t n = 0;
  while (envp[n]) n++;
  env_entry *e = calloc(n + N_REQUIRED + 1, sizeof *e);
  if (!e) return CP_ENOMEM;
  int rc = 0;
  size_t count = 0;
  for (size_t i = 0; i < n; i++) {
    e[count].s = win32_utf16(envp[i], &rc);
    if (!e[count].s) goto fail;
    e[count].name_len = name_len_of(e[count].s);
    e[count].index = i;
    count++;
  }
  for (size_t r = 0; r < N_REQUIRED; r++) {
    size_t rlen = wcslen(required_vars[r]);
    bool have = false;
    for (size_t i = 0; i < n && !have; i++)
      have = compare_names(e[i].s, e[i].name_len, required_vars[r], rlen) == 0;
    if (have) continue;
    DWORD vlen = GetEnvironmentVariableW(required_vars[r], NULL, 0);
    if (vlen == 0) continue;
    wchar_t *s = malloc((rlen + 1 + vlen) * sizeof *s);
    if (!s) {
      rc = CP_ENOMEM;
      goto fail;
    }
    wcscpy(s, required_vars[r]);
    s[rlen] = L'=';
    DWORD got = GetEnvironmentVariableW(required_vars[r], s + rlen + 1, vlen);
    if (got == 0 || got >= vlen) {
      free(s);
      continue;
    }
    e[count].s = s;
    e[count].name_len = rlen;
    e[count].index = n + r;
    count++;
  }
  qsort(e, count, sizeof *e, entry_cmp);
  size_t total = 1;
  for (size_t i = 0; i < count; i++) {
    bool overridden =
        i + 1 < count && compare_names(e[i].s, e[i].name_len, e[i + 1].s, e[i + 1].name_len) == 0;
    if (overridden) {
      free(e[i].s);
      e[i].s = NULL;
      continue;
    }
    total += wcslen(e[i].s) + 1;
  }
  if (count == 0) total = 2; /* an empty block is two NULs */
  wchar_t *block = malloc(total * sizeof *block), *w = block;
  if (!block) {
    rc = CP_ENOMEM;
    goto fail;
  }
  for (size_t i = 0; i < count; i++) {
    if (!e[i].s) continue;
    size_t len = wcslen(e[i].s) + 1;
    memcpy(w, e[i].s, len * sizeof *w);
    w += len;
  }
  if (w == block) *w++ = L'\0';
  *w = L'\0';
  *out = block;
fail:
  for (size_t i = 0; i < count; i++) free(e[i].s);
  free(e);
  return rc ? (rc == CP_ENOMEM ? CP_ENOMEM : CP_EINVAL) : 0;
}

/* ---- shell, self, handles ---- */

char *win32_comspec(void) {
  DWORD n = GetEnvironmentVariableW(L"ComSpec", NULL, 0);
  if (n) {
    wchar_t *w = malloc((n + 1) * sizeof *w);
    if (w && GetEnvironmentVariableW(L"ComSpec", w, n + 1) <= n && w[0]) {
      char *s = win32_utf8(w, -1);
      free(w);
      return s;
    }
    free(w);
  }
  UINT m = GetSystemDirectoryW(NULL, 0);
  wchar_t *dir = m ? malloc((m + 16) * sizeof *dir) : NULL;
  if (!dir) return cp__strdup("cmd.exe");
  UINT got = GetSystemDirectoryW(dir, m + 16);
  if (!got || got > m) {
    free(dir);
    return cp__strdup("cmd.exe");
  }
  wcscat(dir, L"\\cmd.exe");
  char *s = win32_utf8(dir, -1);
  free(dir);
  return s;
}

/* Node's rule: a shell named cmd or cmd.exe (any directory, any case) gets /d /s /c "command" passed
 * verbatim; any other shell gets -c command (quoted as usual). */
static bool is_cmd_exe(const char *shell) {
  const char *base = shell;
  for (const char *p = shell; *p; p++)
    if (*p == '\\' || *p == '/') base = p + 1;
  char low[8];
  size_t n = strlen(base);
  if (n != 3 && n != 7) return false;
  for (size_t i = 0; i < n; i++)
    low[i] = (char)(base[i] >= 'A' && base[i] <= 'Z' ? base[i] - 'A' + 'a' : base[i]);
  low[n] = '\0';
  return strcmp(low, "cmd") == 0 || strcmp(low, "cmd.exe") == 0;
}

int os_shell_argv(const char *shell, const char *command, const char *argv[7], char **owned, bool *verbatim) {
  *owned = NULL;
  *verbatim = false;
  char *spec = NULL;
  if (!shell || !*shell) {
    spec = win32_comspec();
    if (!spec) return CP_ENOMEM;
    shell = spec;
  }
  if (!is_cmd_exe(shell)) {
    argv[0] = shell;
    argv[1] = "-c";
    argv[2] = command;
    argv[3] = NULL;
    *owned = spec;
    return 0;
  }
  /* One allocation holds the interpreter's path (when it is ComSpec's) and the quoted command. */
  size_t slen = spec ? strlen(spec) + 1 : 0, clen = strlen(command);
  char *buf = malloc(slen + clen + 3);
  if (!buf) {
    free(spec);
    return CP_ENOMEM;
  }
  if (spec) memcpy(buf, spec, slen);
  char *q = buf + slen;
  q[0] = '"';
  memcpy(q + 1, command, clen);
  q[clen + 1] = '"';
  q[clen + 2] = '\0';
  free(spec);
  argv[0] = slen ? buf : shell;
  argv[1] = "/d";
  argv[2] = "/s";
  argv[3] = "/c";
  argv[4] = q;
  argv[5] = NULL;
  *owned = buf;
  *verbatim = true;
  return 0;
}

void os_env_unset(const char *name) {
  wchar_t *w = win32_utf16(name, NULL);
  if (w) {
    SetEnvironmentVariableW(w, NULL);
    free(w);
  }
  /* The C runtime keeps its own copy, which getenv() reads. */
  size_t n = strlen(name);
  char *kv = malloc(n + 2);
  if (kv) {
    memcpy(kv, name, n);
    kv[n] = '=';
    kv[n + 1] = '\0';
    _putenv(kv);
    free(kv);
  }
}

int os_self_exe(char **out) {
  DWORD cap = MAX_PATH;
  for (;;) {
    wchar_t *buf = malloc(cap * sizeof *buf);
    if (!buf) return CP_ENOMEM;
    DWORD n = GetModuleFileNameW(NULL, buf, cap);
    if (n == 0) {
      int rc = win32_error(GetLastError());
      free(buf);
      return rc ? rc : CP_EUNKNOWN;
    }
    if (n < cap) {
      *out = win32_utf8(buf, (int)n);
      free(buf);
      return *out ? 0 : CP_ENOMEM;
    }
    free(buf);
    if (cap >= 32768) return CP_ENAMETOOLONG;
    cap *= 2;
  }
}

bool os_handle_valid(cp_os_handle h) {
  DWORD flags;
  return h != NULL && h != INVALID_HANDLE_VALUE && GetHandleInformation((HANDLE)h, &flags) != 0;
}
