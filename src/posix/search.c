/* search.c - the program's PATH search, done in the parent before the child exists (POSIX). */
#include "spawn.h"
#include "../internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef NAME_MAX
#define NAME_MAX 255
#endif

static bool is_executable_file(const char *path, int *err) {
  struct stat st;
  if (stat(path, &st) < 0) {
    *err = errno;
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    *err = EACCES;
    return false;
  }
  if (faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) < 0) {
    *err = errno;
    return false;
  }
  return true;
}

/* execvp's search, done before the child exists: the first executable regular file on PATH wins;
 * if none, EACCES when one was found but could not be run, else ENOENT. With no PATH, the POSIX
 * default (glibc's confstr(_CS_PATH), as Node). Relative PATH entries (and the empty entry, meaning
 * ".") name places relative to the child's cwd, as in `sh -c 'cd cwd; exec file'`: the check looks
 * at cwd/entry/file, the child execs entry/file after its chdir. A child that runs as another user
 * (set_uid/set_gid) cannot be judged by our access rights: it gets the list of candidates in
 * *candidates (NULL-terminated, one allocation) and tries them itself, as that user. */
int posix_search_path(const char *file, const char *path_env, const char *cwd, bool as_other_user, char **out,
                      char ***candidates, cp_error *err) {
  *candidates = NULL;
  if (strchr(file, '/')) {
    *out = cp__strdup(file);
    return *out ? 0 : cp__error_set(err, CP_ENOMEM, ENOMEM, "spawn", file);
  }
  if (strlen(file) > NAME_MAX) return cp__error_set(err, CP_ENAMETOOLONG, ENAMETOOLONG, "spawn", file);
  if (!path_env) path_env = "/bin:/usr/bin";
  size_t flen = strlen(file), clen = cwd ? strlen(cwd) : 0, plen = strlen(path_env), entries = 1;
  for (const char *q = path_env; *q; q++) entries += *q == ':';
  char *cand = malloc(plen + clen + flen + 5);
  char **list = as_other_user ? malloc((entries + 1) * sizeof(char *) + plen + entries * (flen + 3)) : NULL;
  if (!cand || (as_other_user && !list)) {
    free(cand);
    free(list);
    return cp__error_set(err, CP_ENOMEM, ENOMEM, "spawn", file);
  }
  char *store = list ? (char *)(list + entries + 1) : NULL;
  size_t n = 0;
  int seen = ENOENT;
  const char *p = path_env;
  for (;;) {
    const char *end = strchr(p, ':');
    size_t dlen = end ? (size_t)(end - p) : strlen(p);
    bool relative = dlen == 0 || p[0] != '/';
    char *w = cand;
    if (cwd && relative) {
      memcpy(w, cwd, clen);
      w += clen;
      *w++ = '/';
    }
    char *exec_form = w; /* what the child execs, relative to its own cwd */
    if (dlen) {
      memcpy(w, p, dlen);
      w += dlen;
    } else {
      *w++ = '.';
    }
    *w++ = '/';
    memcpy(w, file, flen + 1);
    if (list) {
      size_t len = strlen(exec_form) + 1;
      list[n++] = memcpy(store, exec_form, len);
      store += len;
    } else {
      int e = 0;
      if (is_executable_file(cand, &e)) {
        memmove(cand, exec_form, strlen(exec_form) + 1);
        *out = cand;
        return 0;
      }
      if (e != ENOENT && e != ENOTDIR) seen = EACCES;
    }
    if (!end) break;
    p = end + 1;
  }
  free(cand);
  if (list) {
    list[n] = NULL;
    *out = cp__strdup(file);
    if (!*out) {
      free(list);
      return cp__error_set(err, CP_ENOMEM, ENOMEM, "spawn", file);
    }
    *candidates = list;
    return 0;
  }
  return cp__error_set(err, posix_error(seen), seen, "spawn", file);
}

