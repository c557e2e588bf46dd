/* guardian.c - the watcher process that keeps kill_on_parent_exit where the child's own parent-death
 * signal cannot: a whole tree (new_group/detached) everywhere, and a single child where the platform
 * has no parent-death signal at all (macOS; Linux built with CHILDPROC_PORTABLE_POSIX).
 *
 * A small guardian process (in its own session, so a kill of our group spares it) waits on a socket
 * whose other end only we hold (a copy made by our own fork() is closed in that copy: pthread_atfork).
 * It is started before the child; the child itself sends whom to kill - its group (its pid negated)
 * or itself - before it execs, so there is no moment when the child runs unguarded. Then end of file
 * (we are gone) -> the guardian sends SIGKILL there; any further byte (we released the child
 * normally) -> it leaves. A release before the child's message (the spawn failed) is a 0, which the
 * guardian takes as "nothing to guard". Writes use MSG_NOSIGNAL, so a guardian that was killed costs
 * us no SIGPIPE. The guardian is double-forked (init reaps it, never us) and drops every signal
 * handler and mask of ours at once. The pid it holds names our child and no other as long as that
 * child is not reaped: spawn.c keeps guarded children as zombies until they are freed. */
#include "spawn.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef CP_SPAWN_LINUX
#include <sys/syscall.h>
#endif

static pthread_mutex_t guardian_lock = PTHREAD_MUTEX_INITIALIZER;
static guardian_link guardians = {-1, &guardians, &guardians};

static void atfork_prepare(void) { pthread_mutex_lock(&guardian_lock); }
static void atfork_parent(void) { pthread_mutex_unlock(&guardian_lock); }

static void atfork_child(void) {
  /* The guardians are the parent's: a copy that never execs must not keep them from seeing its end. */
  for (guardian_link *g = guardians.next; g != &guardians; g = g->next) {
    close(g->fd);
    g->fd = -1;
  }
  guardians.next = guardians.prev = &guardians;
  pthread_mutex_init(&guardian_lock, NULL);
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static int atfork_error;
static void atfork_install(void) { atfork_error = pthread_atfork(atfork_prepare, atfork_parent, atfork_child); }

void posix_guardian_track(guardian_link *g, int fd) {
  g->fd = fd;
  pthread_mutex_lock(&guardian_lock);
  g->next = guardians.next;
  g->prev = &guardians;
  guardians.next->prev = g;
  guardians.next = g;
  pthread_mutex_unlock(&guardian_lock);
}

int posix_guardian_untrack(guardian_link *g) {
  pthread_mutex_lock(&guardian_lock);
  int fd = g->fd;
  if (g->next) {
    g->prev->next = g->next;
    g->next->prev = g->prev;
  }
  g->next = g->prev = NULL;
  g->fd = -1;
  pthread_mutex_unlock(&guardian_lock);
  return fd;
}

static bool read_full(int fd, void *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = read(fd, (char *)buf + got, len - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += (size_t)n;
  }
  return true;
}

/* Every descriptor but fd: the guardian holds nothing of ours (a pipe kept open would hide our end). */
static void close_all_but(int fd) {
#ifdef CP_SPAWN_LINUX
  /* close_range() is Linux 5.9; before it (pidfds are 5.3), the loop below. */
  if ((fd == 0 || syscall(SYS_close_range, 0u, (unsigned)fd - 1, 0u) == 0) &&
      syscall(SYS_close_range, (unsigned)fd + 1, ~0u, 0u) == 0)
    return;
#endif
  for (int i = 0; i < fd; i++) close(i);
#ifdef CP_HAVE_CLOSEFROM
  closefrom(fd + 1);
#else
  struct rlimit rl;
  long max = 65536;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < max)
    max = (long)rl.rlim_cur;
  for (long i = fd + 1; i < max; i++) close((int)i);
#endif
}

static void guardian_main(int fd) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP) sigaction(s, &sa, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  setsid();
  close_all_but(fd);
  pid_t target;
  char b;
  /* 0 (released before the child started), and never init or "every process". */
  if (!read_full(fd, &target, sizeof target) || target == 0 || target == 1 || target == -1)
    posix_exit_flushed(0);
  if (!read_full(fd, &b, 1)) kill(target, SIGKILL);
  posix_exit_flushed(0);
}

int posix_guardian_start(guardian_link *g, const char **syscall_name) {
  *syscall_name = "pthread_atfork";
  pthread_once(&atfork_once, atfork_install);
  if (atfork_error) {
    errno = atfork_error;
    return posix_error(atfork_error);
  }
  int gp[2];
  *syscall_name = "socketpair";
  if (posix_socketpair(gp) < 0) return posix_error(errno);
  /* On the list before the fork, so a concurrent fork() elsewhere closes its copy too. */
  posix_guardian_track(g, gp[1]);
  *syscall_name = "fork";
  pid_t mid = fork();
  if (mid < 0) {
    int e = errno;
    close(gp[0]);
    close(posix_guardian_untrack(g));
    errno = e;
    return posix_error(e);
  }
  if (mid == 0) {
    /* The middle process: gone at once, the guardian goes to init. Its exit status is the errno of
     * a guardian that could not be forked (a process limit), so the spawn fails with it here rather
     * than later, when the child finds nobody at the other end of the socket. */
    pid_t guardian = fork();
    if (guardian != 0) posix_exit_flushed(guardian > 0 ? 0 : errno > 0 && errno < 256 ? errno : EAGAIN);
    guardian_main(gp[0]);
  }
  close(gp[0]);
  int st = 0;
  while (waitpid(mid, &st, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) != 0) {
    int e = WEXITSTATUS(st);
    close(posix_guardian_untrack(g));
    errno = e;
    return posix_error(e);
  }
  return 0;
}

void posix_guardian_release(guardian_link *g) {
  int fd = posix_guardian_untrack(g);
  if (fd < 0) return;
  static const pid_t release = 0; /* a "nothing to guard", or a byte after the real message */
  ssize_t n = send(fd, &release, sizeof release, MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)n;
  close(fd);
}
