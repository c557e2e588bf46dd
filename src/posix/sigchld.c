/* sigchld.c - child-exit watching where neither a pidfd nor the poller can watch exits (Linux before 5.3,
 * the portable build on Linux, builds with CHILDPROC_FORCE_SIGCHLD; on kqueue systems - macOS, the
 * BSDs - only spawns made while the application ignores SIGCHLD, see spawn.c): the documented exception
 * to "no signal handlers".
 *
 * The first loop that needs it installs one SIGCHLD handler for the process (SA_RESTART |
 * SA_NOCLDSTOP), keeping the previous disposition and calling it afterwards when it was a function;
 * a spawn finding it replaced (say, by SIG_IGN) puts it back, keeping the new one as the previous.
 * When the previous disposition was SIG_IGN (or SA_NOCLDWAIT), the loops reap the application's
 * own exited children as the kernel would have, so they do not linger as zombies.
 * The handler writes a byte to a pipe of every loop that watches children this way; such a loop then
 * calls waitpid(pid, WNOHANG) for each of its own children only, so it never reaps anyone else's.
 * Code elsewhere in the process that calls waitpid(-1) or wait() will steal exit statuses: do not
 * mix the two. A loop unregisters by clearing its slot and waiting until no handler is running
 * before it closes its pipe, so the handler never writes to a recycled descriptor. */
#include "posix.h"
#include "sigchld.h"
#include "spawn.h"

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
/* The disposition ours replaced, double-buffered: a reinstall writes the other one and then
 * switches, so a handler running meanwhile reads a whole struct. */
static struct sigaction previous_store[2];
static _Atomic(struct sigaction *) previous;
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;

/* Every child the library watches this way, over all loops: when the application had SIGCHLD
 * ignored (its children reaped by the kernel), ours would keep them as zombies; the loops reap
 * the children that are not on this list instead (reap_for_ignore). */
static pthread_mutex_t all_lock = PTHREAD_MUTEX_INITIALIZER;
static posix_sigchld_entry *all_procs;

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
  const struct sigaction *prev = atomic_load(&previous);
  if (!prev) return;
  if (prev->sa_flags & SA_SIGINFO) {
    if (prev->sa_sigaction) prev->sa_sigaction(sig, info, uctx);
  } else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
    prev->sa_handler(sig);
  }
}

static bool ours(const struct sigaction *sa) {
  return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == on_sigchld;
}

/* Installs the handler, or puts it back when the application replaced it since (SIG_IGN set after
 * the library's first spawn would make the kernel reap, and lose, the library's children): one
 * sigaction() call to look, per spawn, on this fallback path only. */
static int install(void) {
  struct sigaction cur;
  if (sigaction(SIGCHLD, NULL, &cur) < 0) return posix_error(errno);
  if (ours(&cur)) return 0;
  pthread_mutex_lock(&install_lock);
  int rc = 0;
  struct sigaction *prev = atomic_load(&previous);
  struct sigaction *next = prev == &previous_store[0] ? &previous_store[1] : &previous_store[0];
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sigchld;
  sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NOCLDSTOP;
  sigfillset(&sa.sa_mask);
  if (sigaction(SIGCHLD, NULL, &cur) == 0 && !ours(&cur)) {
    *next = cur;
    atomic_store(&previous, next);
    if (sigaction(SIGCHLD, &sa, NULL) < 0) rc = posix_error(errno);
  }
  pthread_mutex_unlock(&install_lock);
  return rc;
}

/* Whether the application had asked the kernel to reap its children. */
static bool emulating_ignore(void) {
  const struct sigaction *prev = atomic_load(&previous);
  return prev && (prev->sa_handler == SIG_IGN || (prev->sa_flags & SA_NOCLDWAIT));
}

bool posix_sigchld_emulating_ignore(void) { return emulating_ignore(); }

static bool is_library_child(pid_t pid) {
  pthread_mutex_lock(&all_lock);
  posix_sigchld_entry *e = all_procs;
  while (e && e->pid != pid) e = e->all_next;
  pthread_mutex_unlock(&all_lock);
  return e != NULL;
}

/* SIGCHLD was ignored by the application: reap its exited children as the kernel would have. A
 * library child that has exited but is still to be reaped by its own loop stops the scan until
 * then (waitid can only show the first zombie). */
static void reap_for_ignore(void) {
  for (;;) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) < 0 || info.si_pid == 0) return;
    if (is_library_child(info.si_pid)) return;
    while (waitpid(info.si_pid, NULL, WNOHANG) < 0 && errno == EINTR) {
    }
  }
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
    pid_t r;
    e->held = false;
    if (e->hold && !emulating_ignore()) { /* looked at, left a zombie: see os_proc_kill_tree */
      siginfo_t info;
      memset(&info, 0, sizeof info);
      do {
        r = waitid(P_PID, (id_t)e->pid, &info, WEXITED | WNOHANG | WNOWAIT);
      } while (r < 0 && errno == EINTR);
      if (r == 0) r = info.si_pid;
      if (r > 0) {
        st = posix_wait_status(&info);
        e->held = true;
      }
    } else {
      do { /* an interrupted wait is tried again: the wake-up that led here is consumed */
        r = waitpid(e->pid, &st, WNOHANG);
      } while (r < 0 && errno == EINTR);
    }
    if (r == 0) {
      e = next;
      continue;
    }
    posix_sigchld_remove(s, e);
    e->on_exit(e, r > 0 ? st : -1, r > 0);
    e = s->procs; /* the list may have changed */
  }
  if (emulating_ignore()) reap_for_ignore();
}

int posix_sigchld_get(os_loop *loop, posix_sigchld **slot_ptr, const char **syscall_name) {
  *syscall_name = "sigaction";
  int rc = install();
  if (rc || *slot_ptr) return rc;
  posix_sigchld *s = calloc(1, sizeof *s);
  if (!s) return CP_ENOMEM;
  int fds[2];
  *syscall_name = "pipe";
  if (posix_pipe(fds) < 0) {
    rc = posix_error(errno);
    free(s);
    return rc;
  }
  if (fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(fds[1], F_SETFL, O_NONBLOCK) < 0) {
    rc = posix_error(errno);
    close(fds[0]);
    close(fds[1]);
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
  *syscall_name = "spawn";
  rc = s->slot < 0 ? CP_EAGAIN : posix_watch(loop, &s->w, POLLIN);
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
  pthread_mutex_lock(&all_lock);
  e->all_prev = NULL;
  e->all_next = all_procs;
  if (all_procs) all_procs->all_prev = e;
  all_procs = e;
  pthread_mutex_unlock(&all_lock);
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
  pthread_mutex_lock(&all_lock);
  if (e->all_prev)
    e->all_prev->all_next = e->all_next;
  else
    all_procs = e->all_next;
  if (e->all_next) e->all_next->all_prev = e->all_prev;
  e->all_next = e->all_prev = NULL;
  pthread_mutex_unlock(&all_lock);
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
