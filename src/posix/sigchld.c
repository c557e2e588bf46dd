/* sigchld.c - child-exit watching where there is no pidfd (Linux before 5.3, or a build with
 * CHILDPROC_FORCE_SIGCHLD): the documented exception to "no signal handlers".
 *
 * The first loop that needs it installs one SIGCHLD handler for the process (SA_RESTART |
 * SA_NOCLDSTOP), keeping the previous disposition and calling it afterwards when it was a function.
 * The handler writes a byte to a pipe of every loop that watches children this way; such a loop then
 * calls waitpid(pid, WNOHANG) for each of its own children only, so it never reaps anyone else's.
 * Code elsewhere in the process that calls waitpid(-1) or wait() will steal exit statuses: do not
 * mix the two. A loop unregisters by clearing its slot and waiting until no handler is running
 * before it closes its pipe, so the handler never writes to a recycled descriptor. */
#include "posix.h"
#include "sigchld.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_LOOPS 256

static atomic_int slots[MAX_LOOPS]; /* write ends of the loops' pipes; 0 = free (fd 0 is never one) */
static atomic_int handlers_running;
static struct sigaction previous;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static int install_error;

static void on_sigchld(int sig, siginfo_t *info, void *uctx) {
  int saved = errno;
  atomic_fetch_add(&handlers_running, 1);
  for (int i = 0; i < MAX_LOOPS; i++) {
    int fd = atomic_load(&slots[i]);
    if (fd > 0) {
      ssize_t r = write(fd, "c", 1); /* a full pipe already says "look" */
      (void)r;
    }
  }
  atomic_fetch_sub(&handlers_running, 1);
  errno = saved;
  if (previous.sa_flags & SA_SIGINFO) {
    if (previous.sa_sigaction) previous.sa_sigaction(sig, info, uctx);
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler(sig);
  }
}

static void install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sigchld;
  sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NOCLDSTOP;
  sigfillset(&sa.sa_mask);
  if (sigaction(SIGCHLD, &sa, &previous) < 0) install_error = posix_error(errno);
}

struct posix_sigchld {
  os_loop *loop;
  posix_watcher w; /* the read end */
  int wfd;
  int slot;
  posix_sigchld_entry *procs;
};

static void sigchld_on_wake(posix_watcher *w, unsigned revents) {
  posix_sigchld *s = (posix_sigchld *)((char *)w - offsetof(posix_sigchld, w));
  (void)revents;
  char buf[256];
  while (read(s->w.fd, buf, sizeof buf) > 0) {
  }
  /* Reap what is ours; callbacks may add or remove entries, so restart after each one. */
  for (posix_sigchld_entry *e = s->procs; e;) {
    posix_sigchld_entry *next = e->next;
    int st = 0;
    pid_t r = waitpid(e->pid, &st, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR)) {
      e = next;
      continue;
    }
    posix_sigchld_remove(s, e);
    e->on_exit(e, r > 0 ? st : -1, r > 0);
    e = s->procs; /* the list may have changed */
  }
}

int posix_sigchld_get(os_loop *loop, posix_sigchld **slot_ptr) {
  if (*slot_ptr) return 0;
  pthread_once(&install_once, install);
  if (install_error) return install_error;
  posix_sigchld *s = calloc(1, sizeof *s);
  if (!s) return CP_ENOMEM;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0 || posix_pair_above_stdio(fds) < 0) {
    int rc = posix_error(errno);
    free(s);
    return rc;
  }
  s->loop = loop;
  s->w.fd = fds[0];
  s->w.cb = sigchld_on_wake;
  s->w.slot = -1;
  s->wfd = fds[1];
  s->slot = -1;
  for (int i = 0; i < MAX_LOOPS && s->slot < 0; i++) {
    int expected = 0;
    if (atomic_compare_exchange_strong(&slots[i], &expected, s->wfd)) s->slot = i;
  }
  int rc = s->slot < 0 ? CP_EAGAIN : posix_watch(loop, &s->w, POLLIN);
  if (rc) {
    if (s->slot >= 0) atomic_store(&slots[s->slot], 0);
    close(fds[0]);
    close(fds[1]);
    free(s);
    return rc;
  }
  *slot_ptr = s;
  return 0;
}

void posix_sigchld_add(posix_sigchld *s, posix_sigchld_entry *e) {
  e->prev = NULL;
  e->next = s->procs;
  if (s->procs) s->procs->prev = e;
  s->procs = e;
  /* It may have exited before it was on the list: look once more on the next turn. */
  ssize_t r = write(s->wfd, "a", 1);
  (void)r;
}

void posix_sigchld_remove(posix_sigchld *s, posix_sigchld_entry *e) {
  if (e->prev)
    e->prev->next = e->next;
  else if (s->procs == e)
    s->procs = e->next;
  else
    return; /* not on the list */
  if (e->next) e->next->prev = e->prev;
  e->next = e->prev = NULL;
}

void posix_sigchld_free(posix_sigchld *s) {
  if (!s) return;
  atomic_store(&slots[s->slot], 0);
  while (atomic_load(&handlers_running) > 0) {
  }
  posix_watch(s->loop, &s->w, 0);
  close(s->w.fd);
  close(s->wfd);
  free(s);
}
