/* errpipe.c - the error pipes of the fork()+exec paths (spawn_portable.c, and spawn_linux.c in
 * builds that fork every child) and the application's own fork() calls.
 *
 * A fork() elsewhere in the process while a spawn's error pipe has its write end would give that copy
 * the end too, and the spawn, which reads the pipe to its end, would wait for the copy to exec or exit
 * (a copy that lives on holds the spawn for as long). So the write ends of all spawns in progress are
 * kept in a list, and a fork() of the application's closes them in its child (pthread_atfork): the
 * copy never holds one. The list changes only under a lock that the application's fork() takes in its
 * prepare handler and releases in its parent (the child starts with a fresh one): making a pipe and
 * entering it, and closing a write end and leaving it, are each a system call under it, so the child
 * sees every end it got and nothing else; no spawn forks while holding it, so a fork() never waits for
 * a spawn's fork (libcs that serialize fork() calls around their prepare handlers - musl, macOS - would
 * deadlock on that). The fork() a spawn makes itself (posix_fork_spawn) leaves the list alone: its
 * child needs its own end, and the others are close-on-exec. */
#include "spawn.h"
#include "../internal.h"

#include <errno.h>
#include <pthread.h>
#include <unistd.h>

static pthread_mutex_t pipes_lock = PTHREAD_MUTEX_INITIALIZER;
static posix_errpipe *pipes;        /* the write ends of the spawns between pipe() and closing it */
static _Thread_local bool own_fork; /* this thread's fork() is a spawn's */

static void errpipes_prepare(void) {
  if (!own_fork) pthread_mutex_lock(&pipes_lock);
}
static void errpipes_parent(void) {
  if (!own_fork) pthread_mutex_unlock(&pipes_lock);
}
static void errpipes_child(void) {
  if (own_fork) return; /* the spawn's child: it execs */
  for (posix_errpipe *e = pipes; e; e = e->next) close(e->fd);
  pipes = NULL;
  pthread_mutex_init(&pipes_lock, NULL); /* held by the forking thread, the only one here */
}

static pthread_once_t errpipes_once = PTHREAD_ONCE_INIT;
static int errpipes_error;
static void errpipes_install(void) {
  errpipes_error = pthread_atfork(errpipes_prepare, errpipes_parent, errpipes_child);
}

int posix_errpipe_open(posix_errpipe *e, int fds[2], cp_error *err) {
  pthread_once(&errpipes_once, errpipes_install);
  if (errpipes_error)
    return cp__error_set(err, posix_error(errpipes_error), errpipes_error, "pthread_atfork", NULL);
  pthread_mutex_lock(&pipes_lock);
  int rc = posix_pipe(fds), e_pipe = errno;
  if (rc == 0) {
    e->fd = fds[1];
    e->next = pipes;
    pipes = e;
  }
  pthread_mutex_unlock(&pipes_lock);
  if (rc < 0) return cp__error_set(err, posix_error(e_pipe), e_pipe, "pipe", NULL);
  return 0;
}

void posix_errpipe_close_write(posix_errpipe *e, int fds[2]) {
  if (fds[1] < 0) return;
  pthread_mutex_lock(&pipes_lock);
  for (posix_errpipe **p = &pipes; *p; p = &(*p)->next) {
    if (*p == e) {
      *p = e->next;
      break;
    }
  }
  close(fds[1]);
  fds[1] = -1;
  pthread_mutex_unlock(&pipes_lock);
}

pid_t posix_fork_spawn(void) {
  own_fork = true;
  pid_t pid = fork();
  int e = errno;
  if (pid != 0) own_fork = false; /* in the child it stays: the child execs or exits */
  errno = e;
  return pid;
}
