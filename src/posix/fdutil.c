/* fdutil.c - close-on-exec pipes and socketpairs above stdio (pipe2/SOCK_CLOEXEC where they exist). */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#if !defined(CP_HAVE_PIPE2) || !defined(CP_HAVE_SOCK_CLOEXEC)
static int cloexec_both(int fds[2]) {
  if (fcntl(fds[0], F_SETFD, FD_CLOEXEC) < 0 || fcntl(fds[1], F_SETFD, FD_CLOEXEC) < 0) {
    int e = errno;
    close(fds[0]);
    close(fds[1]);
    fds[0] = fds[1] = -1;
    errno = e;
    return -1;
  }
  return 0;
}
#endif

int posix_pipe(int fds[2]) {
#if defined(CP_HAVE_PIPE2)
  if (pipe2(fds, O_CLOEXEC) < 0) return -1;
#else
  if (pipe(fds) < 0 || cloexec_both(fds) < 0) return -1;
#endif
#if defined(F_SETNOSIGPIPE)
  /* Apple: a write to a pipe whose reader is gone costs no SIGPIPE. */
  fcntl(fds[0], F_SETNOSIGPIPE, 1);
  fcntl(fds[1], F_SETNOSIGPIPE, 1);
#endif
  return posix_pair_above_stdio(fds);
}

int posix_socketpair(int fds[2]) {
#if defined(CP_HAVE_SOCK_CLOEXEC)
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) return -1;
#else
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0 || cloexec_both(fds) < 0) return -1;
#endif
#if defined(SO_NOSIGPIPE)
  /* Apple and the BSDs: a write to a socket whose peer is gone costs no SIGPIPE. */
  int one = 1;
  setsockopt(fds[0], SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
  setsockopt(fds[1], SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
  return posix_pair_above_stdio(fds);
}
