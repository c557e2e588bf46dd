/* cptest.h - what the test suites share: where the helper programs are, temporary files and
 * directories, counting the parent's open descriptors and children, the helper child's output
 * pattern, and skips that say why.
 *
 * Include it after <cmocka.h>'s prerequisites; it includes <cmocka.h> itself. Paths are UTF-8 on
 * every platform (converted to UTF-16 at the Windows system-call boundary). */
#ifndef CPTEST_H
#define CPTEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <childproc.h>

#ifdef _WIN32
#define CPTEST_EXE ".exe"
#define CPTEST_SEP "\\"
#else
#define CPTEST_EXE ""
#define CPTEST_SEP "/"
#endif

/* The absolute path of program `name` built next to the running test (".exe" appended on
 * Windows). The string lives until the process exits. */
const char *cptest_bin(const char *name);

/* The directory the test executable is in (no trailing separator). */
const char *cptest_bin_dir(void);

/* cptest_bin("cp-testchild"): the helper child, see tests/helpers/testchild.c. */
const char *cptest_helper(void);

/* True when running under Wine (ntdll exports wine_get_version). Always false on POSIX. */
bool cptest_is_wine(void);

/* Prints "SKIPPED: <reason>" and skips the current test (cmocka's skip()). */
#define CPTEST_SKIP(reason)                                                                                  \
  do {                                                                                                       \
    print_message("SKIPPED: %s\n", (reason));                                                                \
    skip();                                                                                                  \
    return;                                                                                                  \
  } while (0)

/* The byte at offset i of what the helper's out/err/both modes write. */
static inline char cptest_pattern_byte(size_t i) { return (char)('a' + (int)(i % 26)); }

/* Whether buf[0..len) is the helper's pattern from offset 0. On a mismatch prints where. */
bool cptest_is_pattern(const char *buf, size_t len);

/* Asserts a sync call returned `expect`; on a mismatch prints the result's error message first. */
#define cptest_assert_rc(rc, res, expect) cptest_assert_rc_((rc), (res), (expect), __FILE__, __LINE__)
void cptest_assert_rc_(int rc, const cp_result *res, int expect, const char *file, int line);

/* Runs the helper child synchronously: args is everything after the program name. */
int cptest_run(const char *const *args, const cp_options *o, cp_result *res);

/* What the helper's "argv" mode prints for these arguments (a NULL-terminated list starting with
 * "argv"): one line of lowercase hex per argument. A new string, free() it. */
char *cptest_hex_lines(const char *const *args);

/* Whether the buffer holds exactly the NUL-terminated string s. */
bool cptest_buf_eq(const cp_buffer *b, const char *s);

/* A new, empty, uniquely named directory under the system's temporary directory (an absolute,
 * symlink-free path on POSIX). Free with cptest_rmtree() and then free(). */
char *cptest_mkdtemp(void);

/* Removes a directory made by cptest_mkdtemp() and everything in it (files and directories). */
void cptest_rmtree(const char *path);

/* A suite's scratch directory: cptest_tmpdir_setup() makes it (use it as, or from, the cmocka group
 * setup), cptest_tmpdir_teardown() removes it with everything in it. */
extern char *cptest_tmpdir;
int cptest_tmpdir_setup(void **state);
int cptest_tmpdir_teardown(void **state);

/* "a" SEP "b": a new string, free() it. */
char *cptest_join(const char *a, const char *b);

/* Writes a file with the given contents; mode (POSIX permission bits) is ignored on Windows.
 * Returns 0 or -1. */
int cptest_write_file(const char *path, const void *data, size_t len, int mode);

/* Reads a whole file into a new NUL-terminated buffer (free() it); NULL on failure. */
char *cptest_read_file(const char *path, size_t *len);

/* Copies a program (keeping it executable). Returns 0 or -1. */
int cptest_copy_file(const char *from, const char *to);

/* Creates a directory. Returns 0 or -1. */
int cptest_mkdir(const char *path);

/* Sets (value non-NULL) or removes a variable of this process's environment. */
void cptest_setenv(const char *name, const char *value);

/* Opens a file as an OS descriptor for options.stdio (CP_STDIO_FD): for reading, or for writing
 * (created or truncated). Not inheritable: handing it to the child is the library's job.
 * CP_INVALID_HANDLE on failure. */
cp_os_handle cptest_open_handle(const char *path, bool for_write);
void cptest_close_handle(cp_os_handle h);

/* Points this process's standard stream `stdfd` (1 or 2) at a new file `path` (C runtime fd and,
 * on Windows, the process's standard handle too); returns a token for cptest_restore_std(), or -1. */
int cptest_redirect_std(int stdfd, const char *path);
void cptest_restore_std(int stdfd, int token);

/* Number of descriptors (POSIX: fds in /proc/self/fd) or handles (Windows) this process has open. */
int cptest_open_fds(void);

/* Whether this process has no child process left (POSIX: no child at all, reaped or not, which is
 * waitpid(-1, WNOHANG) failing with ECHILD; Windows: no live process whose parent is us). */
bool cptest_no_children(void);

/* POSIX: marks every fd >= 3 this process inherited close-on-exec, so a test of what the library
 * leaks into children does not see what ctest or the shell leaked into the test. No-op elsewhere. */
void cptest_cloexec_inherited_fds(void);

/* Waits up to wait_ms for process `pid` (not our child) to be gone: exited, or a zombie nobody
 * reaped yet on POSIX. Returns whether it is. */
bool cptest_process_gone(int64_t pid, int wait_ms);

#ifndef _WIN32
/* This program's path (/proc/self/exe, _NSGetExecutablePath, KERN_PROC_PATHNAME): 0, or -1. */
int cptest_self_exe(char *buf, size_t size);
/* A pidfd for pid (Linux), else -1 with errno ENOSYS (or the pidfd_open error). */
int cptest_pidfd(int64_t pid);
/* Whether pid (any process, not only a child) ends within ms: by its pidfd where there is one, else
 * by looking at it (cptest_process_gone). */
bool cptest_pid_ends_within(int64_t pid, int ms);
/* _exit() for a process a test forked (and that never execs): a coverage build (CP_COVERAGE) writes
 * its counters first, or what the process ran would not count. */
_Noreturn void cptest_exit(int code);
#endif

/* Forcibly ends process `pid` (cleanup after a test that expected it gone). */
void cptest_kill_pid(int64_t pid);

/* Appends n bytes of d to the text buf[*len] of capacity cap, keeping it NUL-terminated; what does
 * not fit is dropped (the tests' stdout collectors: a few short lines). */
void cptest_append(char *buf, size_t cap, size_t *len, const char *d, size_t n);

/* How many '\n' s holds. */
int cptest_count_lines(const char *s);

/* A cp_worker_fn for a suite's worker table: sends every message back unchanged. */
int cptest_worker_echo(cp_loop *loop, cp_channel *ch, int argc, char **argv, void *ud);

/* cprun (built beside the tests) started on a loop of its own with stdin ignored, stdout collected
 * into out and stderr inherited, so a test can signal it while it runs; closed and status are set at
 * its on_close. */
typedef struct cptest_cprun {
  cp_loop *loop;
  cp_child *child;
  char out[4096];
  size_t len;
  bool closed;
  int64_t status;
} cptest_cprun;
void cptest_cprun_start(cptest_cprun *r, const char *const *args);

/* Milliseconds of a monotonic clock. */
uint64_t cptest_now_ms(void);

/* What a child's events said, as cptest_seen_events records it (ud: a cptest_seen). */
typedef struct cptest_seen {
  int64_t status; /* on_exit's */
  int signal;
  bool exited, closed;
  size_t out_bytes; /* stdout bytes */
  int leader_alive; /* POSIX: at on_exit, kill(pid, 0) == 0 (a held zombie still has its pid) */
} cptest_seen;
extern const cp_child_events cptest_seen_events;

#endif /* CPTEST_H */
