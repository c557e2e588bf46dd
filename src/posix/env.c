/* env.c - the parent's environment, variable names and the shell command line (POSIX). */
#include "posix.h"
#include "../internal.h"
#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <stdlib.h>
#include <string.h>

extern char **environ;

int os_environ_get(char ***out) {
  size_t n = 0;
  while (environ && environ[n]) n++;
  char **copy = calloc(n + 1, sizeof *copy);
  if (!copy) return CP_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    copy[i] = cp__strdup(environ[i]);
    if (!copy[i]) {
      cp__strv_free(copy);
      return CP_ENOMEM;
    }
  }
  *out = copy;
  return 0;
}

bool os_env_name_eq(const char *a, size_t alen, const char *b, size_t blen) {
  return alen == blen && memcmp(a, b, alen) == 0;
}

int os_shell_argv(const char *shell, const char *command, const char *argv[7], char **owned, bool *verbatim) {
  *owned = NULL;
  *verbatim = false;
  argv[0] = shell && *shell ? shell : "/bin/sh";
  argv[1] = "-c";
  argv[2] = command;
  argv[3] = NULL;
  return 0;
}

void os_env_unset(const char *name) { unsetenv(name); }

int os_self_exe(char **out) {
  size_t cap = 256;
  for (;;) {
    char *buf = malloc(cap);
    if (!buf) return CP_ENOMEM;
    ssize_t n = readlink("/proc/self/exe", buf, cap);
    if (n < 0) {
      int e = errno;
      free(buf);
      return posix_error(e);
    }
    if ((size_t)n < cap) {
      buf[n] = '\0';
      *out = buf;
      return 0;
    }
    free(buf);
    if (cap > 1 << 20) return CP_ENAMETOOLONG;
    cap *= 2;
  }
}

int os_channel_open(os_loop *loop, const char *fd_value, os_stream **out) {
  char *end;
  errno = 0;
  long fd = strtol(fd_value, &end, 10);
  if (errno || *end || end == fd_value || fd < 0 || fd > INT_MAX) return CP_EINVAL;
  int fl = fcntl((int)fd, F_GETFL);
  if (fl < 0) return CP_EBADF;
  /* Ours now: no program we start inherits it by accident. */
  if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0 || fcntl((int)fd, F_SETFL, fl | O_NONBLOCK) < 0)
    return posix_error(errno);
  return posix_stream_new(loop, (int)fd, out);
}

bool os_handle_valid(cp_os_handle h) { return h >= 0 && fcntl(h, F_GETFD) >= 0; }
