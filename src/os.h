/* os.h - the internal OS interface: everything shared code needs from the platform.
 *
 * Shared code (the files directly in src/) implements Node's semantics once and calls only what is
 * declared here; src/posix/ and src/win32/ implement it with system calls and nothing else. The
 * objects are opaque to shared code and created/freed only through these functions.
 *
 * Rules every implementation follows:
 *  - Functions return 0 or a negative CP_E* code; failures also fill a cp_error where one is passed
 *    (code, os_error, static syscall name, path, message). Nothing is left open on failure.
 *  - Every fd/handle created is close-on-exec / non-inheritable from birth; a child inherits only
 *    what os_spawn() hands it.
 *  - Callbacks run only from inside os_loop_poll(), on the thread that called it, never from inside
 *    the function that queued the work.
 *  - Strings are UTF-8; Windows converts to/from UTF-16 at the system-call boundary.
 */
#ifndef CP_OS_H
#define CP_OS_H

#include "childproc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct os_loop os_loop;     /* a poller: epoll/kqueue/poll on POSIX, an IOCP on Windows */
typedef struct os_stream os_stream; /* the parent's end of a pipe to a child */
typedef struct os_proc os_proc;     /* a started child, watched for exit */

/* ---- clock ---------------------------------------------------------------------------------- */

/* Milliseconds of a monotonic clock (arbitrary origin). */
uint64_t os_now_ms(void);

/* ---- loop ----------------------------------------------------------------------------------- */

int os_loop_new(os_loop **out);

/* Frees the loop. Every stream and proc registered on it must have been freed first. */
void os_loop_free(os_loop *loop);

/* The descriptor a program with its own event loop can wait on: readable (POSIX: the epoll or kqueue
 * fd) or signalled (Windows: the IOCP handle) when os_loop_poll(loop, 0) has work. CP_INVALID_HANDLE
 * when the backend has none (the poll() backend). */
cp_os_handle os_loop_handle(os_loop *loop);

/* Whether os_loop_poll(loop, 0) has work that os_loop_handle() does not show: completions the backend
 * delivers on the next turn without its poller (POSIX: a write that went through at once, a child that
 * exited before its exit watch was registered). Windows posts such work to the IOCP: always false. */
bool os_loop_has_pending(os_loop *loop);

/* Waits at most timeout_ms (-1: no limit, 0: don't block) for I/O readiness/completions and child
 * exits, then runs their callbacks. Returns 0 (also when interrupted by a signal or when the time
 * passed with nothing to do) or a CP_E* code when the poller itself failed. */
int os_loop_poll(os_loop *loop, int timeout_ms);

/* ---- streams -------------------------------------------------------------------------------- */

/* n > 0: data; n == 0 and status == 0: end of stream; status < 0: a read error (the stream is then
 * at its end). `buf` is valid only during the call. */
typedef void (*os_read_cb)(os_stream *s, void *data, const char *buf, size_t n, int status);

/* status 0: all `len` bytes were written; CP_EPIPE: the reader closed its end; other CP_E*: error. */
typedef void (*os_write_cb)(os_stream *s, void *data, int status);

/* Starts delivering data to cb (data is the user pointer given back to it). Reading is on until
 * os_stream_read_stop(), end of stream or an error. */
int os_stream_read_start(os_stream *s, os_read_cb cb, void *data);
void os_stream_read_stop(os_stream *s);

/* Queues buf[0..len) for writing; writes complete in order. The buffer must stay valid until cb
 * runs. Writing to a pipe whose reader is gone gives CP_EPIPE through cb and never raises SIGPIPE. */
int os_stream_write(os_stream *s, const void *buf, size_t len, os_write_cb cb, void *data);

/* One piece of a gathered write. */
typedef struct os_iovec {
  const void *base;
  size_t len;
} os_iovec;

/* Writes what the descriptor takes at once of iov[0..n) (n <= 4), as one gathered write, when
 * nothing is queued on s that still has bytes to write: *written gets how many bytes went (0 when
 * the descriptor is full, when s has such a queue, or where the platform has no such write; the
 * caller then queues the rest with os_stream_write). Returns 0, or the CP_E* error of the write
 * (*written 0: the caller's os_stream_write will report it the usual way). No callback runs. */
int os_stream_try_write(os_stream *s, const os_iovec *iov, int n, size_t *written);

/* Makes s carry a message channel (called once, before reading or writing starts) whose messages
 * are at most max_message bytes. The channel's framing (JSON lines, binary lengths) is shared code;
 * this is the transport under it: POSIX sends the bytes as they are (nothing to do here), Windows
 * wraps every write in libuv's IPC frame and strips the frames from what it reads (src/ipc_frame.h),
 * reporting a malformed frame as a read error (CP_EPROTO, or CP_ENOBUFS for a frame longer than
 * max_message allows). */
void os_stream_carry_channel(os_stream *s, size_t max_message);

/* Closes the stream and frees it. Pending writes are dropped without their callbacks; no callback
 * of this stream runs after this returns. */
void os_stream_close(os_stream *s);

/* ---- processes ------------------------------------------------------------------------------ */

/* Everything os_spawn() needs, already checked and defaulted by shared code. */
typedef struct os_spawn_req {
  const char *file;        /* program as given by the user (searched on PATH if it has no dir separator) */
  const char *const *argv; /* full argv, argv[0] included, NULL-terminated */
  const char *const *envp; /* full environment "NAME=VALUE", NULL-terminated, never NULL */
  const char *path_env;    /* value of PATH in envp (the child's PATH), NULL if it has none */
  bool env_inherited;      /* envp is this process's environment, unchanged: the platform may hand the
                            * child its own block as it is (Windows: strings that are not valid
                            * UTF-16, such as unpaired surrogates, arrive intact) */
  const char *cwd;         /* NULL = parent's */
  cp_stdio stdio[3];       /* kinds as in the public header (never CP_STDIO_CHANNEL here) */
  int channel_fd;          /* -1: no channel; else the child's descriptor number for the message
                            * channel (0..2 replaces that stdio slot; 3 is Node's default). POSIX: an
                            * AF_UNIX SOCK_STREAM socketpair; Windows: a duplex named pipe handed to
                            * the child's C runtime as that fd. The parent's end is `*channel`. */
  bool detached;
  bool new_group;           /* own process group (POSIX setpgid) / job object (Windows) so that
                             * os_proc_kill_tree() reaches every descendant; implied by detached */
  bool kill_on_parent_exit; /* the child (its tree with new_group) dies when this process ends, even by
                             * SIGKILL; CP_ENOTSUP where the platform has no way to promise it */
  bool set_uid, set_gid;
  uint32_t uid, gid;
  bool windows_hide;
  bool windows_verbatim_arguments;
} os_spawn_req;

/* Called once when the child has exited and been reaped: status is its exit status, or -1 with
 * signum > 0 when a signal ended it (Windows: the signal passed to os_proc_kill() when that is what
 * ended it, with status -1). */
typedef void (*os_exit_cb)(os_proc *p, void *data, int64_t status, int signum);

/* Starts the child. On success *proc is live and exit_cb will run exactly once from os_loop_poll(),
 * and pipes[i] is a new stream for each stdio[i] of kind CP_STDIO_PIPE (NULL for the others; stdin's
 * is for writing, stdout's and stderr's for reading). A failure to start, in the parent or in the
 * child before the program runs (exec failure, chdir, setuid...), is returned here with err filled;
 * no child, zombie or fd is then left behind. */
int os_spawn(os_loop *loop, const os_spawn_req *req, os_exit_cb exit_cb, void *data, os_proc **proc,
             os_stream *pipes[3], os_stream **channel, cp_error *err);

int64_t os_proc_pid(const os_proc *p);

/* Sends signum to the child (Windows: terminates it for the CP_SIG* signals, CP_EINVAL for others).
 * CP_ESRCH once the child has exited, even before exit_cb ran: never a signal to a recycled pid. */
int os_proc_kill(os_proc *p, int signum);

/* Sends signum to the child's whole process group / job (req->new_group or detached). CP_EINVAL when
 * the child was not started as a group. Unlike os_proc_kill() it still reaches the descendants after
 * the child itself exited (CP_ESRCH once none is left). */
int os_proc_kill_tree(os_proc *p, int signum);

/* Frees a proc after its exit_cb ran. */
void os_proc_free(os_proc *p);

/* ---- process information (src/posix/procinfo.c, src/win32/procinfo.c) ------------------------ */

/* The resident memory of process `pid` (one of our children), in bytes. CP_ESRCH when it is gone,
 * CP_ENOTSUP where the platform cannot say (pid 0 asks only whether it can). */
int os_proc_rss(int64_t pid, uint64_t *bytes);

/* The number of CPUs this process may run on (at least 1). */
unsigned os_cpu_count(void);

/* Whether h is an open descriptor / handle of this process. */
bool os_handle_valid(cp_os_handle h);

/* ---- environment, shell, signals -------------------------------------------------------------- */

/* A copy of the parent's environment as a NULL-terminated array of UTF-8 "NAME=VALUE" strings;
 * free it with os_environ_free(). */
int os_environ_get(char ***out);
void os_environ_free(char **env);

/* Whether two variable names are the same variable here (case-insensitive on Windows). */
bool os_env_name_eq(const char *a, size_t alen, const char *b, size_t blen);

/* Builds the argv that runs `command` through `shell` (NULL or "" = the platform default:
 * /bin/sh -c, or %ComSpec% /d /s /c "command"). argv gets at most 6 entries plus NULL; entries point
 * into shell/command or static storage, or into *owned, which the caller frees. *verbatim is set
 * when the command line must be passed unquoted (Windows). */
int os_shell_argv(const char *shell, const char *command, const char *argv[7], char **owned, bool *verbatim);

/* Opens the channel to this process's parent from the value of NODE_CHANNEL_FD (a decimal fd number)
 * as a stream that reads and writes. CP_EINVAL when the value is not a usable descriptor. */
int os_channel_open(os_loop *loop, const char *fd_value, os_stream **out);

/* Removes a variable from this process's environment (not thread-safe, as setenv). */
void os_env_unset(const char *name);

/* The absolute path of this program's executable, UTF-8, to be freed by the caller. */
int os_self_exe(char **out);

/* "SIGTERM" for 15 on this platform; NULL if unknown. */
const char *os_signal_name(int signum);
/* The number of "TERM" (no SIG prefix, upper case); CP_EINVAL if unknown. */
int os_signal_number(const char *name);

#endif /* CP_OS_H */
