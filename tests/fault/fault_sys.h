/* fault_sys.h - failing system calls for the syscall fault-injection suite (test_fault_sys.c).
 *
 * Linked with -Wl,--wrap=<name> for each call in fault_sys.c's table, every call the library (and
 * the test) makes to one of them goes through a counter per call; when armed, call number n of one
 * chosen call fails with a chosen errno, without reaching the kernel. Raw syscall() is keyed by its
 * system call number ("syscall:setgroups", ...). The counters live in a shared anonymous mapping, so
 * a child started by clone(CLONE_VM) or fork() counts (and fails) in the same counters until it
 * execs: the child-side steps between fork and exec can be failed too. */
#ifndef FAULT_SYS_H
#define FAULT_SYS_H

#include <stdbool.h>

/* The calls that can be failed, by name ("pipe2", "dup2", "syscall:setresuid", ...); -1 if unknown. */
int fsys_id(const char *name);
int fsys_count(void);
const char *fsys_name(int id);

/* Starts counting every call from 0 (unarmed). */
void fsys_reset(void);
/* Starts counting from 0; call number n (1-based) of call id fails with errno e. */
void fsys_arm(int id, long n, int e);
/* Stops failing; the counters are kept. */
void fsys_disarm(void);
/* Calls made to id since the last reset/arm. */
long fsys_calls(int id);
/* Whether the armed failure happened. */
bool fsys_fired(void);

#endif
