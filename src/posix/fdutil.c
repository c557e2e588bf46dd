/* fdutil.c - the library's descriptors: kept off 0..2 (the slots of a closed stdio filled with the null
 * device first), and close-on-exec pipes and socketpairs (pipe2/SOCK_CLOEXEC where they exist). */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

/* A process whose stdin, stdout or stderr is closed hands that number to the next descriptor anyone
 * creates. If that were one of ours, a child another thread is starting at that moment with the
 * slot inherited would get our pipe or pidfd as its stdin; moving ours up afterwards
 * (posix_fd_above_stdio) is too late for that child. So before creating descriptors the library
 * fills each closed slot with the null device, once: the slot then reads as end of file and
 * swallows writes (what a child inheriting it was promised anyway), and from then on no descriptor
 * of anyone's can land there. One poll() call tells whether any slot is closed. */
void posix_reserve_stdio(void) {
  struct pollfd p[3] = {{0, 0, 0}, {1, 0, 0}, {2, 0, 0}};
  if (poll(p, 3, 0) < 0 || !((p[0].revents | p[1].revents | p[2].revents) & POLLNVAL)) return;
  static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&lock);
  for (int i = 0; i < 3; i++) {
    if (fcntl(i, F_GETFD) >= 0 || errno != EBADF) continue;
    int n = open("/dev/null", O_RDWR);
    if (n >= 0 && n != i) {
      /* A lower slot was closed meanwhile and took it: put it where it belongs, keep the rest. */
      if (fcntl(i, F_GETFD) < 0 && errno == EBADF) dup2(n, i);
      if (n > 2) close(n);
    }
  }
  pthread_mutex_unlock(&lock);
}

int posix_fd_above_stdio(int fd) {
  if (fd < 0 || fd > 2) return fd;
  int n = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  int e = errno;
  close(fd);
  errno = e;
  return n;
}

int posix_pair_above_stdio(int fds[2]) {
  if (fds[0] > 2 && fds[1] > 2) return 0;
  fds[0] = posix_fd_above_stdio(fds[0]);
  int e = errno;
  fds[1] = posix_fd_above_stdio(fds[1]);
  if (fds[0] >= 0 && fds[1] >= 0) return 0;
  if (fds[0] < 0) errno = e;
  else e = errno;
  if (fds[0] >= 0) close(fds[0]);
  if (fds[1] >= 0) close(fds[1]);
  fds[0] = fds[1] = -1;
  errno = e;
  return -1;
}

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
