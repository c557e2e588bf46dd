/* sigchld.h - exit watching by SIGCHLD where there is no pidfd (POSIX backend internal). */
#ifndef CP_POSIX_SIGCHLD_H
#define CP_POSIX_SIGCHLD_H

#include "posix.h"

#include <stdbool.h>
#include <sys/types.h>

typedef struct posix_sigchld posix_sigchld;
typedef struct posix_sigchld_entry posix_sigchld_entry;

struct posix_sigchld_entry {
  pid_t pid;
  bool hold; /* keep it a zombie once exited (the caller reaps it): set before adding */
  bool held; /* set before on_exit: it was kept a zombie */
  /* waitpid() status when reaped is true; reaped is false when someone else reaped it (ECHILD). */
  void (*on_exit)(posix_sigchld_entry *e, int wstatus, bool reaped);
  posix_sigchld_entry *next, *prev;         /* on its loop's list */
  posix_sigchld_entry *all_next, *all_prev; /* on the process-wide list */
};

/* The loop's SIGCHLD watcher, created on first use; the handler is installed (or put back, if the
 * application replaced it) on every call. On failure *syscall_name says what failed. */
int posix_sigchld_get(os_loop *loop, posix_sigchld **slot, const char **syscall_name);
void posix_sigchld_add(posix_sigchld *s, posix_sigchld_entry *e);
void posix_sigchld_remove(posix_sigchld *s, posix_sigchld_entry *e);
void posix_sigchld_free(posix_sigchld *s);

/* Whether the handler replaced the application's SIG_IGN (or SA_NOCLDWAIT) and the loops reap the
 * application's children for it: those not on the SIGCHLD path's list, so a child watched any other
 * way (kqueue) would be reaped from under its watch. */
bool posix_sigchld_emulating_ignore(void);

/* Where a loop keeps its watcher (NULL until first used). */
posix_sigchld **posix_loop_sigchld(os_loop *loop);

#endif
