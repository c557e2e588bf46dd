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

#ifdef CP_HAVE_NSGETENVIRON
#include <crt_externs.h>
#define environ (*_NSGetEnviron()) /* a shared library on Apple has no `environ` to link to */
#else
extern char **environ;
#endif
#ifdef CP_HAVE_NSGETEXECUTABLEPATH
#include <mach-o/dyld.h>
#include <stdint.h>
#endif
#ifdef CP_HAVE_KERN_PROC_PATHNAME
#include <sys/types.h>
#include <sys/sysctl.h>
#endif

/* One allocation: the pointer array, then the strings. If another thread changes the environment
 * between the sizing pass and the copy (which POSIX leaves undefined anyway), the copy never
 * overruns the block: it starts again, a few times, then gives up with CP_EAGAIN. */
int os_environ_get(char ***out) {
  for (int attempt = 0; attempt < 4; attempt++) {
    size_t n = 0, bytes = 0;
    while (environ && environ[n]) bytes += strlen(environ[n++]) + 1;
    char **copy = malloc((n + 1) * sizeof *copy + bytes);
    if (!copy) return CP_ENOMEM;
    char *w = (char *)(copy + n + 1), *end = w + bytes;
    size_t i = 0;
    for (; i < n && environ && environ[i]; i++) {
      size_t len = strlen(environ[i]) + 1;
      if (len > (size_t)(end - w)) break;
      memcpy(w, environ[i], len);
      copy[i] = w;
      w += len;
    }
    if (i == n) {
      copy[n] = NULL;
      *out = copy;
      return 0;
    }
    free(copy);
  }
  return CP_EAGAIN;
}

void os_environ_free(char **env) { free(env); }

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

/* The running program's path: _NSGetExecutablePath (Apple), sysctl KERN_PROC_PATHNAME (FreeBSD), else
 * the /proc/self/exe link (Linux; CP_ENOTSUP where there is no such link). */
int os_self_exe(char **out) {
#if defined(CP_HAVE_NSGETEXECUTABLEPATH)
  uint32_t size = 0;
  _NSGetExecutablePath(NULL, &size);
  char *raw = malloc(size + 1);
  if (!raw) return CP_ENOMEM;
  if (_NSGetExecutablePath(raw, &size) != 0) {
    free(raw);
    return CP_EIO;
  }
  char *real = realpath(raw, NULL); /* the path may hold symlinks and ".." */
  free(raw);
  if (!real) return posix_error(errno);
  *out = real;
  return 0;
#elif defined(CP_HAVE_KERN_PROC_PATHNAME)
  int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PATHNAME, -1};
  size_t size = 0;
  if (sysctl(mib, 4, NULL, &size, NULL, 0) < 0) return posix_error(errno);
  char *buf = malloc(size + 1);
  if (!buf) return CP_ENOMEM;
  if (sysctl(mib, 4, buf, &size, NULL, 0) < 0) {
    int e = errno;
    free(buf);
    return posix_error(e);
  }
  buf[size] = '\0';
  *out = buf;
  return 0;
#else
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
#endif
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
