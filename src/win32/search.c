/* search.c - which file CreateProcessW should run for the program name the user gave.
 *
 * A name with a directory part (a '\' or '/', or a drive "C:") is taken as a path; a relative one is
 * resolved against the child's cwd (options.cwd, else ours), as execve() after chdir() would. A bare
 * name is looked for, in order, in every directory of the child's PATH (relative entries against
 * the child's cwd), then in this program's directory, the system directory and the Windows
 * directory. The current directory is not searched (unlike CreateProcess's own search, like Rust's
 * std): a program in the cwd is run as ".\name". In each place the name is tried as given when it
 * already has an extension, then with each extension of PATHEXT (the child's, else ours, else
 * .COM;.EXE;.BAT;.CMD) that CreateProcessW can run: .com, .exe, .bat and .cmd (others need the
 * shell's file associations: use options.shell); a path (not a bare name) without extension is
 * last tried as given. Only directories of the name found: EACCES (as execve), else ENOENT. .bat and .cmd
 * found this way are then run through cmd.exe with safe escaping (spawn.c), never handed to CreateProcessW
 * raw. */
#include "win32.h"

#include <stdlib.h>
#include <string.h>
#include <wchar.h>

typedef struct wbuf {
  wchar_t *p;
  size_t len, cap;
} wbuf;

static int wb_put(wbuf *b, const wchar_t *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 260;
    while (cap < b->len + n + 1) cap *= 2;
    wchar_t *p = realloc(b->p, cap * sizeof *p);
    if (!p) return CP_ENOMEM;
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n * sizeof *s);
  b->len += n;
  b->p[b->len] = L'\0';
  return 0;
}

static bool is_sep(wchar_t c) { return c == L'\\' || c == L'/'; }

static bool has_dir_part(const wchar_t *f) {
  for (const wchar_t *p = f; *p; p++)
    if (is_sep(*p)) return true;
  return f[0] && f[1] == L':';
}

static bool is_absolute(const wchar_t *f) {
  if (is_sep(f[0])) return true; /* \\server\share, \\?\..., and \rooted (drive of the cwd) */
  return f[0] && f[1] == L':' && is_sep(f[2]);
}

/* Whether the last component has an extension (a dot not at its start). */
static bool has_extension(const wchar_t *f) {
  const wchar_t *base = f;
  for (const wchar_t *p = f; *p; p++)
    if (is_sep(*p) || *p == L':') base = p + 1;
  const wchar_t *dot = wcsrchr(base, L'.');
  return dot && dot != base && dot[1];
}

static bool is_file(const wchar_t *path, DWORD *err) {
  DWORD a = GetFileAttributesW(path);
  if (a == INVALID_FILE_ATTRIBUTES) {
    *err = GetLastError();
    return false;
  }
  if (a & FILE_ATTRIBUTE_DIRECTORY) {
    *err = ERROR_ACCESS_DENIED;
    return false;
  }
  return true;
}

/* The extensions to try: PATHEXT's runnable ones, in its order. */
typedef struct ext_list {
  wchar_t ext[4][5];
  int n;
} ext_list;

static void parse_pathext(const char *value, ext_list *out) {
  static const wchar_t *const runnable[] = {L".com", L".exe", L".bat", L".cmd"};
  out->n = 0;
  const char *p = value;
  while (p && *p && out->n < 4) {
    const char *end = strchr(p, ';');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == 4) {
      wchar_t e[5];
      for (int i = 0; i < 4; i++) {
        char c = p[i];
        e[i] = (wchar_t)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      }
      e[4] = L'\0';
      for (int r = 0; r < 4; r++) {
        if (wcscmp(e, runnable[r]) != 0) continue;
        bool dup = false;
        for (int k = 0; k < out->n; k++) dup |= wcscmp(out->ext[k], e) == 0;
        if (!dup) wcscpy(out->ext[out->n++], e);
      }
    }
    p = end ? end + 1 : NULL;
  }
  if (out->n == 0) {
    for (int r = 0; r < 4; r++) wcscpy(out->ext[r], runnable[r]);
    out->n = 4;
  }
}

static const char *env_lookup(const char *const *envp, const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; envp && envp[i]; i++) {
    const char *eq = strchr(envp[i], '=');
    if (eq && os_env_name_eq(envp[i], (size_t)(eq - envp[i]), name, n)) return eq + 1;
  }
  return NULL;
}

/* Tries dir\name as given (with an extension) and with each extension. 1 found (*out set), 0 not
 * found, < 0 out of memory. `seen` keeps the most telling error met so far. */
static int try_dir(const wchar_t *dir, size_t dlen, const wchar_t *name, const ext_list *exts, bool bare_last,
                   wchar_t **out, DWORD *seen) {
  wbuf b = {0};
  if (dlen) {
    if (wb_put(&b, dir, dlen)) return CP_ENOMEM;
    if (!is_sep(dir[dlen - 1]) && wb_put(&b, L"\\", 1)) goto oom;
  }
  if (wb_put(&b, name, wcslen(name))) goto oom;
  size_t base = b.len;
  DWORD e = 0;
  if (has_extension(name)) {
    if (is_file(b.p, &e)) goto found;
    if (e == ERROR_ACCESS_DENIED) *seen = e;
  }
  for (int i = 0; i < exts->n; i++) {
    b.len = base;
    if (wb_put(&b, exts->ext[i], wcslen(exts->ext[i]))) goto oom;
    if (is_file(b.p, &e)) goto found;
    if (e == ERROR_ACCESS_DENIED) *seen = e;
  }
  b.len = base;
  b.p[base] = L'\0';
  if (!has_extension(name)) {
    /* A path without extension: run it if it is a file (CreateProcessW judges the format); a
     * directory of that name makes the error EACCES, as execve() says. In a PATH search only the
     * directory case counts. */
    if (is_file(b.p, &e) && bare_last) goto found;
    if (e == ERROR_ACCESS_DENIED) *seen = e;
  }
  free(b.p);
  return 0;
found : {
  /* The full, normalised path: what CreateProcessW gets and what the .bat check looks at. */
  DWORD n = GetFullPathNameW(b.p, 0, NULL, NULL);
  wchar_t *full = n ? malloc(n * sizeof *full) : NULL;
  if (full && GetFullPathNameW(b.p, n, full, NULL) < n) {
    free(b.p);
    *out = full;
    return 1;
  }
  free(full);
  *out = b.p; /* GetFullPathNameW failed: the path as found still names the file */
  return 1;
}
oom:
  free(b.p);
  return CP_ENOMEM;
}

static wchar_t *module_dir(void) {
  DWORD cap = MAX_PATH;
  for (;;) {
    wchar_t *buf = malloc(cap * sizeof *buf);
    if (!buf) return NULL;
    DWORD n = GetModuleFileNameW(NULL, buf, cap);
    if (n == 0) {
      free(buf);
      return NULL;
    }
    if (n < cap) {
      wchar_t *slash = NULL;
      for (wchar_t *p = buf; *p; p++)
        if (is_sep(*p)) slash = p;
      if (slash) *slash = L'\0';
      return buf;
    }
    free(buf);
    if (cap >= 32768) return NULL;
    cap *= 2;
  }
}

static wchar_t *system_dir(bool windows) {
  UINT n = windows ? GetWindowsDirectoryW(NULL, 0) : GetSystemDirectoryW(NULL, 0);
  if (!n) return NULL;
  wchar_t *buf = malloc((n + 1) * sizeof *buf);
  if (!buf) return NULL;
  UINT m = windows ? GetWindowsDirectoryW(buf, n + 1) : GetSystemDirectoryW(buf, n + 1);
  if (!m || m > n) {
    free(buf);
    return NULL;
  }
  return buf;
}

/* The child's cwd as an absolute UTF-16 path (options.cwd made absolute, else ours). */
static wchar_t *child_cwd(const char *cwd, int *rc) {
  wchar_t *w = NULL;
  if (cwd) {
    w = win32_utf16(cwd, rc);
    if (!w) return NULL;
  }
  DWORD n = GetFullPathNameW(w ? w : L".", 0, NULL, NULL);
  wchar_t *full = n ? malloc(n * sizeof *full) : NULL;
  if (!full || GetFullPathNameW(w ? w : L".", n, full, NULL) >= n) {
    free(full);
    full = w; /* keep what we have */
    w = NULL;
    if (!full) *rc = CP_ENOMEM;
  }
  free(w);
  return full;
}

int win32_search(const char *file, const char *path_env, const char *const *envp, const char *cwd,
                 wchar_t **out, cp_error *err) {
  int rc = 0;
  *out = NULL;
  wchar_t *wfile = win32_utf16(file, &rc);
  if (!wfile)
    return rc == CP_ENOMEM
               ? cp__error_set(err, rc, 0, "spawn", file)
               : cp__error_setf(err, rc, 0, "spawn", file, "spawn EINVAL: the file name is not UTF-8");
  ext_list exts;
  const char *pathext = env_lookup(envp, "PATHEXT");
  char *own_pathext = NULL;
  if (!pathext) {
    DWORD n = GetEnvironmentVariableW(L"PATHEXT", NULL, 0);
    wchar_t *w = n ? malloc((n + 1) * sizeof *w) : NULL;
    if (w && GetEnvironmentVariableW(L"PATHEXT", w, n + 1) <= n) own_pathext = win32_utf8(w, -1);
    free(w);
    pathext = own_pathext;
  }
  parse_pathext(pathext, &exts);
  free(own_pathext);

  DWORD seen = ERROR_FILE_NOT_FOUND;
  wchar_t *wcwd = NULL, *wpath = NULL, *dirs[3] = {NULL, NULL, NULL};
  int found = 0;

  if (has_dir_part(wfile)) {
    if (is_absolute(wfile)) {
      found = try_dir(L"", 0, wfile, &exts, true, out, &seen);
    } else {
      wcwd = child_cwd(cwd, &rc);
      if (!wcwd) goto fail_rc;
      found = try_dir(wcwd, wcslen(wcwd), wfile, &exts, true, out, &seen);
    }
    goto done;
  }

  if (path_env && *path_env) {
    wpath = win32_utf16(path_env, &rc);
    if (!wpath && rc == CP_ENOMEM) goto fail_rc;
  }
  for (wchar_t *p = wpath; p && *p && !found;) {
    wchar_t *end = wcschr(p, L';');
    size_t len = end ? (size_t)(end - p) : wcslen(p);
    /* "C:\dir with spaces" may be quoted in PATH */
    wchar_t *d = p;
    size_t dl = len;
    if (dl >= 2 && d[0] == L'"' && d[dl - 1] == L'"') {
      d++;
      dl -= 2;
    }
    if (dl) {
      wchar_t save = d[dl];
      d[dl] = L'\0';
      if (is_absolute(d)) {
        found = try_dir(d, dl, wfile, &exts, false, out, &seen);
      } else {
        if (!wcwd) wcwd = child_cwd(cwd, &rc);
        if (!wcwd) {
          d[dl] = save;
          goto fail_rc;
        }
        wbuf j = {0};
        if (wb_put(&j, wcwd, wcslen(wcwd)) || wb_put(&j, L"\\", 1) || wb_put(&j, d, dl)) {
          free(j.p);
          d[dl] = save;
          rc = CP_ENOMEM;
          goto fail_rc;
        }
        found = try_dir(j.p, j.len, wfile, &exts, false, out, &seen);
        free(j.p);
      }
      d[dl] = save;
    }
    if (found < 0) break;
    p = end ? end + 1 : NULL;
  }
  if (!found) dirs[0] = module_dir();
  for (int i = 0; i < 3 && !found; i++) {
    if (i) dirs[i] = system_dir(i == 2);
    if (dirs[i]) found = try_dir(dirs[i], wcslen(dirs[i]), wfile, &exts, false, out, &seen);
  }

done:
  for (int i = 0; i < 3; i++) free(dirs[i]);
  free(wpath);
  free(wcwd);
  free(wfile);
  if (found < 0) return cp__error_set(err, CP_ENOMEM, 0, "spawn", file);
  if (found) return 0;
  return cp__error_set(err, win32_error(seen) == CP_EACCES ? CP_EACCES : CP_ENOENT, (int)seen, "spawn", file);

fail_rc:
  for (int i = 0; i < 3; i++) free(dirs[i]);
  free(wpath);
  free(wcwd);
  free(wfile);
  return cp__error_set(err, rc ? rc : CP_ENOMEM, 0, "spawn", rc == CP_EINVAL ? cwd : file);
}
