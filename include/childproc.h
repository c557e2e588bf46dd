/* childproc.h - Node.js's child_process for C, on POSIX and Windows.
 *
 * One header, one API on every platform. Strings are UTF-8 (also on Windows), lengths are size_t,
 * and every function that can fail returns 0 or a negative CP_E* code; cp_strerror() and
 * cp_err_name() describe a code. No function aborts on bad input.
 *
 * Node.js mapping (see docs/node-mapping.md for the whole table):
 *   child_process.spawnSync(file, args, opts)     -> cp_spawn_sync()
 *   child_process.execFileSync(file, args, opts)  -> cp_exec_file_sync()
 *   child_process.execSync(command, opts)         -> cp_exec_sync()
 *   child_process.spawn(file, args, opts)         -> cp_spawn() on a cp_loop, events in cp_child_events
 *   child_process.exec / execFile(..., callback)  -> cp_exec() / cp_exec_file() with a cp_exec_cb
 *   child_process.fork(module, args, opts)        -> cp_fork() (any program speaking the channel),
 *                                                    cp_fork_worker() (a function of this program)
 *   process.send / process.on('message')         -> cp_channel_open_parent() in the child
 *
 * Thread safety: the sync forms may be called from any thread at once; they keep no shared state
 * except the process-wide resources the OS itself shares (the fd table, the environment, which the
 * library only reads). A cp_loop and everything on it (children, channels) belong to one thread at a
 * time; different threads may each run their own loop.
 */
#ifndef CHILDPROC_H
#define CHILDPROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CHILDPROC_VERSION_MAJOR  0
#define CHILDPROC_VERSION_MINOR  1
#define CHILDPROC_VERSION_PATCH  0
#define CHILDPROC_VERSION_STRING "0.1.0"

/* CP_API marks the exported functions. On Windows a static library's users need CHILDPROC_STATIC
 * defined: the CMake target and the pkg-config module pass it, and the header a static build
 * installs defines it itself (cmake/StaticHeader.cmake). */
#if defined(_WIN32)
#if defined(CHILDPROC_STATIC)
#define CP_API
#elif defined(CHILDPROC_BUILDING)
#define CP_API __declspec(dllexport)
#else
#define CP_API __declspec(dllimport)
#endif
#elif defined(__GNUC__)
#define CP_API __attribute__((visibility("default")))
#else
#define CP_API
#endif

/* An OS-level descriptor: a file descriptor on POSIX, a HANDLE on Windows. */
#if defined(_WIN32)
typedef void *cp_os_handle;
#define CP_INVALID_HANDLE ((cp_os_handle)(intptr_t)-1)
#else
typedef int cp_os_handle;
#define CP_INVALID_HANDLE (-1)
#endif

/* ---------------------------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------------------------ */

/* Error codes. The values are the same on every platform; cp_err_name() gives Node's name for each
 * ("ENOENT", ...), cp_strerror() a sentence. */
enum {
  CP_OK = 0,
  CP_EINVAL = -1,        /* an argument or option is invalid (the message names it) */
  CP_ENOENT = -2,        /* the program (or, with syscall "chdir", the cwd) does not exist */
  CP_EACCES = -3,        /* permission denied: not executable, or a directory */
  CP_ENOTDIR = -4,       /* a path component is not a directory */
  CP_ENOEXEC = -5,       /* not an executable format (e.g. a script without "#!") */
  CP_ENOMEM = -6,        /* out of memory */
  CP_E2BIG = -7,         /* argument list and environment too long */
  CP_EMFILE = -8,        /* too many open files */
  CP_EPERM = -9,         /* operation not permitted (setuid, kill of another user's process) */
  CP_ESRCH = -10,        /* no such process: the child was already reaped */
  CP_ETIMEDOUT = -11,    /* the child ran past options.timeout_ms and was killed */
  CP_ENOBUFS = -12,      /* stdout or stderr went past options.max_buffer; the child was killed */
  CP_EPIPE = -13,        /* the other end of a pipe or channel is closed */
  CP_EAGAIN = -14,       /* resource temporarily unavailable (e.g. fork limit reached) */
  CP_ENOTSUP = -15,      /* not supported on this platform (e.g. uid/gid on Windows) */
  CP_EIO = -16,          /* an I/O error */
  CP_ENAMETOOLONG = -17, /* a path is too long */
  CP_ELOOP = -18,        /* too many symbolic links */
  CP_EBADF = -19,        /* an fd/handle given in options.stdio is not open */
  CP_ECANCELED = -20,    /* the operation was canceled */
  CP_ECHILDFAILED = -21, /* exec/execFile: the child exited non-zero or was killed by a signal */
  CP_EUNKNOWN = -22,     /* an OS error with no better mapping (see cp_error.os_error) */
  CP_EPROTO = -23        /* the channel's peer broke the wire format (Windows: a malformed frame
                          * header, or one cut short at the end; see docs/channel.md) */
};

/* A sentence describing the code ("no such file or directory"). Never NULL; unknown codes give
 * "unknown error". */
CP_API const char *cp_strerror(int code);

/* Node's name for the code ("ENOENT", "ETIMEDOUT", ...). Never NULL. */
CP_API const char *cp_err_name(int code);

/* Where and why a run failed. `syscall` is a static string naming the step that failed: "spawn"
 * (argument checks and the program search), "execve"/"CreateProcessW", "chdir", "setuid",
 * "setgid", "setsid", "dup2", "pipe", "fork", "open", "kill", "read", "poll", "write" (options.input
 * could not be queued); for a run that started and then failed, the Node function it stands for:
 * "spawnSync" (a sync form's CP_ETIMEDOUT or CP_ENOBUFS, as Node's spawnSync labels them),
 * "execSync"/"execFileSync" (their CP_ECHILDFAILED), "exec"/"execFile" (every error of the async
 * forms after the start). `path` is the file or directory the step was about (or NULL). `message` is
 * a complete human-readable line; a path too long for it is shortened from its start ("..."), the
 * step, the error's name and its text always stay whole (`path` has it all). */
typedef struct cp_error {
  int code;            /* CP_E* code, CP_OK when nothing failed */
  int os_error;        /* errno / GetLastError() value behind the code, 0 if none */
  const char *syscall; /* static string, NULL when code is CP_OK */
  char *path;          /* owned by the enclosing cp_result; NULL when not about a path */
  char message[256];   /* e.g. "spawn nosuchprog ENOENT: no such file or directory" */
} cp_error;

/* ---------------------------------------------------------------------------------------------
 * Signals
 * ------------------------------------------------------------------------------------------ */

/* Portable numbers for the signals every platform can send. On POSIX they equal the native numbers
 * (which are the same on every POSIX system for these five); any other native signal number can be
 * used on POSIX as is. On Windows, CP_SIGTERM, CP_SIGKILL, CP_SIGINT and CP_SIGQUIT terminate the
 * child (TerminateProcess), as in Node; CP_SIGHUP terminates it too, where Node refuses it (libuv
 * ENOSYS) and its spawnSync then reports SIGKILL: see docs/node-mapping.md. */
#define CP_SIGHUP  1
#define CP_SIGINT  2
#define CP_SIGQUIT 3
#define CP_SIGKILL 9
#define CP_SIGTERM 15

/* "SIGTERM" for 15, etc. NULL for a number this platform has no name for. */
CP_API const char *cp_signal_name(int signum);

/* Parses "SIGTERM", "TERM", "term" or "15". Returns the number (> 0) or CP_EINVAL. */
CP_API int cp_signal_from_name(const char *name);

/* ---------------------------------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------------------------------ */

/* What the child gets as one of its standard streams. The zero value is CP_STDIO_PIPE, Node's
 * default. */
typedef enum cp_stdio_kind {
  CP_STDIO_PIPE = 0, /* a pipe to the parent; sync forms capture it (stdin: options.input) */
  CP_STDIO_INHERIT,  /* the parent's own stream of the same number */
  CP_STDIO_IGNORE,   /* the null device (/dev/null, NUL): the child never sees a closed stream */
  CP_STDIO_FD,       /* cp_stdio.fd, an open fd/handle of the parent (it stays open) */
  CP_STDIO_CHANNEL   /* the message channel goes on this descriptor (Node's 'ipc'); see options.channel */
} cp_stdio_kind;

/* The message channel's framing. JSON is Node's: each message one JSON text and a '\n'. BINARY frames
 * each message with a 4-byte little-endian length and carries any bytes (C-to-C only). */
typedef enum cp_channel_mode { CP_CHANNEL_NONE = 0, CP_CHANNEL_JSON, CP_CHANNEL_BINARY } cp_channel_mode;

typedef struct cp_stdio {
  cp_stdio_kind kind;
  cp_os_handle fd; /* for CP_STDIO_FD only */
} cp_stdio;

/* How options.env is applied. The zero value inherits the parent's environment unchanged. */
typedef enum cp_env_mode {
  CP_ENV_INHERIT = 0, /* the parent's environment; options.env must be NULL */
  CP_ENV_REPLACE,     /* exactly options.env ("NAME=VALUE" strings) */
  CP_ENV_EXTEND       /* the parent's environment with options.env added or overriding */
} cp_env_mode;

/* The shell used when options.shell is CP_SHELL_DEFAULT: /bin/sh on POSIX, %ComSpec% (or cmd.exe)
 * on Windows. */
#define CP_SHELL_DEFAULT ""

/* max_buffer value meaning "no limit". */
#define CP_MAX_BUFFER_UNLIMITED SIZE_MAX

/* The default max_buffer (Node's maxBuffer default, 1 MiB). */
#define CP_MAX_BUFFER_DEFAULT ((size_t)1024 * 1024)

/* Options for every form. Zero-initialise, then set what you need:
 *   cp_options o = { .cwd = "/tmp", .timeout_ms = 5000 };
 * The zero value of every field is Node's default. Pointers are only read during the call. */
typedef struct cp_options {
  /* Working directory of the child; NULL = the parent's. A relative program name that contains a
   * directory separator is resolved against it, as execve() after chdir() would. */
  const char *cwd;

  /* Environment: see cp_env_mode. Each entry must be "NAME=VALUE" with a non-empty NAME; an entry
   * without '=' is CP_EINVAL. On Windows names compare case-insensitively when extending. */
  cp_env_mode env_mode;
  const char *const *env; /* NULL-terminated */

  /* argv[0] as the child sees it; NULL = the file as given. */
  const char *argv0;

  /* stdin, stdout, stderr. */
  cp_stdio stdio[3];

  /* Sync forms: bytes written to the child's stdin (which must be CP_STDIO_PIPE), after which stdin
   * is closed. A child that exits without reading it all is not an error. */
  const void *input;
  size_t input_len;

  /* Kill the child with kill_signal when it runs longer than this; 0 = no limit. The result then
   * has timed_out set and error CP_ETIMEDOUT. Negative values are CP_EINVAL. In the buffered forms
   * (sync forms, cp_exec, cp_exec_file) it bounds the whole call: it returns within timeout_ms +
   * kill_after_ms and a little, whatever descendants do with the pipes. Once the killed child has
   * exited its pipes are closed (what was read is kept); and a child that exits in time but leaves
   * a descendant holding stdout or stderr is reported as timed out at timeout_ms (CP_ETIMEDOUT,
   * timed_out set, status and signal the child's own), as Node's spawnSync does. cp_spawn's
   * on_close comes by the same rule. */
  int64_t timeout_ms;

  /* Signal for timeout and max_buffer kills; 0 = CP_SIGTERM. */
  int kill_signal;

  /* Largest number of bytes kept from stdout, and from stderr, each; 0 = CP_MAX_BUFFER_DEFAULT,
   * CP_MAX_BUFFER_UNLIMITED = no limit. Past it the child is killed with kill_signal, the output is
   * kept up to the limit, the truncated flag is set and the error is CP_ENOBUFS. As with a timeout,
   * the run ends once the child itself has exited: its pipes are closed then, whatever descendants
   * still write to them. */
  size_t max_buffer;

  /* Run the command through a shell: NULL = no shell (spawn, execFile); CP_SHELL_DEFAULT = the
   * platform's shell; anything else = the path of the shell to use. exec always uses a shell (this
   * one, or the default when NULL). With a shell, file and args are joined with spaces, as in Node:
   * no quoting is added. */
  const char *shell;

  /* Start the child in a new session / process group (POSIX setsid), or detached from the
   * console (Windows DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP). A detached child can be killed
   * with its descendants (cp_child_kill_tree). */
  bool detached;

  /* Start the child as the root of its own tree (POSIX: its own process group; Windows: its own job
   * object) without detaching it, and make timeout and max_buffer kills reach the whole tree. */
  bool kill_tree;

  /* Kill the child (and, with kill_tree or detached, every descendant) when this process ends for
   * any reason, SIGKILL included. Off by default, as in Node. Linux: PR_SET_PDEATHSIG, set up from a
   * library thread that lives as long as the process, so a child started from a short-lived thread
   * does not die with that thread, and set after set_uid/set_gid (which clear it); the kernel also
   * clears it when the child execs a set-user-ID or file-capability program, so for those use it with
   * kill_tree. For a tree, a small guardian process kills the group when this process is gone
   * (docs/security.md: what it promises, and fork() in the application). FreeBSD (portable backend):
   * procctl(PROC_PDEATHSIG_CTL) in the child, and the guardian for a tree; macOS and Linux built with
   * CHILDPROC_PORTABLE_POSIX: the guardian for single children too. Windows: a job object with
   * KILL_ON_JOB_CLOSE only this process holds, the child created inside it. Where neither exists,
   * cp_spawn fails with CP_ENOTSUP rather than silently not doing it. */
  bool kill_on_parent_exit;

  /* Kill escalation for timeout and max_buffer kills (and cp_child_terminate): when the child (or its
   * tree) is still alive this many milliseconds after kill_signal, it gets SIGKILL (Windows: it is
   * terminated). 0 = no escalation, as in Node. */
  int64_t kill_after_ms;

  /* A message channel to the child: CP_CHANNEL_JSON (Node-compatible) or CP_CHANNEL_BINARY. It goes on
   * descriptor channel_fd of the child (0 = Node's default, 3), or on the stdio slot whose kind is
   * CP_STDIO_CHANNEL; the child's environment gets NODE_CHANNEL_FD and
   * NODE_CHANNEL_SERIALIZATION_MODE (json, or "binary"). cp_fork() sets JSON when this is NONE. */
  cp_channel_mode channel;
  int channel_fd;

  /* Largest message the channel accepts in either direction; 0 = 64 MiB. A longer incoming message
   * is an error (CP_ENOBUFS, the channel is disconnected), never unbounded memory. On Windows a
   * frame header announcing more than that is refused the same way before its payload is read. */
  size_t channel_max_message;

  /* cp_fork()/cp_fork_worker(): stdio slots left at CP_STDIO_PIPE are inherited unless silent is
   * true, as in Node's fork(). Other forms ignore it. */
  bool silent;

  /* POSIX only: run as this user / group (set_uid, set_gid say whether to). CP_ENOTSUP on Windows.
   * Supplementary groups are dropped when running as root. The program is searched on PATH as that
   * user (a file or directory this process may use but the user may not is skipped, as execvp would
   * as that user). */
  bool set_uid;
  bool set_gid;
  uint32_t uid;
  uint32_t gid;

  /* Windows only (ignored elsewhere): hide the console window of the child; pass the arguments
   * without any quoting (a cmd.exe command line, for example). */
  bool windows_hide;
  bool windows_verbatim_arguments;
} cp_options;

/* ---------------------------------------------------------------------------------------------
 * Sync forms
 * ------------------------------------------------------------------------------------------ */

/* A captured stream. `data` is NUL-terminated for convenience (the NUL is not counted in `len`);
 * it may contain other NUL bytes. Never NULL after a sync call, even when empty. */
typedef struct cp_buffer {
  char *data;
  size_t len;
} cp_buffer;

/* What a sync call returns. Release it with cp_result_free(). */
typedef struct cp_result {
  int64_t pid;        /* the child's pid, 0 if it was never started */
  int64_t status;     /* exit status, or -1 when the child was killed by a signal or never ran */
  int signal;         /* the signal that ended the child, 0 if none (see cp_signal_name) */
  bool timed_out;     /* the child was killed because options.timeout_ms passed */
  cp_buffer out;      /* captured stdout (empty unless stdio[1] is CP_STDIO_PIPE) */
  cp_buffer err;      /* captured stderr (empty unless stdio[2] is CP_STDIO_PIPE) */
  bool out_truncated; /* stdout went past max_buffer */
  bool err_truncated; /* stderr went past max_buffer */
  cp_error error;     /* why the run failed; error.code is CP_OK when it did not */
} cp_result;

/* spawnSync: runs `file` with `args` (NULL-terminated, not including argv[0]; NULL means none),
 * waits for it to exit and for its stdout and stderr to close, and fills *res.
 *
 * `file` is searched on PATH (the child's PATH when options.env sets one; with no PATH at all,
 * POSIX's default "/bin:/usr/bin", as Node) unless it contains a directory separator. A relative PATH
 * entry (and an empty one, meaning ".") is relative to the child's cwd, as for
 * `sh -c 'cd cwd; exec file'`. Returns 0 when the child ran to completion (whatever its exit status), or
 * the negative code also stored in res->error:
 *   CP_EINVAL  a NULL/empty file, a NULL res, an invalid option (the message names it)
 *   CP_ENOENT, CP_EACCES, CP_ENOTDIR, CP_ENOEXEC, CP_E2BIG, ...  the child could not be started
 *              (res->error.syscall/path say which step: "execve" of the program, "chdir" of cwd...)
 *   CP_ETIMEDOUT  killed after options.timeout_ms (res has the output read until then)
 *   CP_ENOBUFS    killed after stdout or stderr passed options.max_buffer
 *   CP_ENOMEM     out of memory (res->error.syscall "write" when options.input could not be queued:
 *                 the child was killed; "read" when the output could not be kept)
 * *res is always initialised, even on error, and must be freed with cp_result_free(): error.code is
 * the code returned, out.data and err.data are never NULL (empty strings when even they could not
 * be allocated). */
CP_API int cp_spawn_sync(const char *file, const char *const *args, const cp_options *options,
                         cp_result *res);

/* execFileSync: as cp_spawn_sync(), and also fails with CP_ECHILDFAILED when the child exits with a
 * non-zero status or is killed by a signal ("Command failed: ..."). */
CP_API int cp_exec_file_sync(const char *file, const char *const *args, const cp_options *options,
                             cp_result *res);

/* execSync: runs `command` through the shell (options.shell, or /bin/sh -c / cmd.exe /d /s /c "..."),
 * otherwise as cp_exec_file_sync(). */
CP_API int cp_exec_sync(const char *command, const cp_options *options, cp_result *res);

/* Frees what a sync call stored in *res and zeroes it. Safe on a zeroed or already freed result. */
CP_API void cp_result_free(cp_result *res);

/* ---------------------------------------------------------------------------------------------
 * The loop and async forms
 * ------------------------------------------------------------------------------------------ */

/* A loop multiplexes children's pipes, channels, exits and timers: epoll on Linux (poll() where a
 * build forces it, and on macOS, the BSDs and the portable POSIX build), an I/O completion port on
 * Windows. One loop per thread; callbacks run inside
 * cp_loop_run() on that thread. */
typedef struct cp_loop cp_loop;
typedef struct cp_child cp_child;
typedef struct cp_channel cp_channel;

CP_API int cp_loop_new(cp_loop **out);

/* Frees the loop. CP_EAGAIN (and nothing freed) while anything still lives on it: a child not yet
 * closed, or closed but not released with cp_child_free(); a channel not freed; a timer not freed
 * with cp_timer_free(), even a stopped or fired one; a deferred event not yet delivered. Run the loop
 * until the children close, free them, the channels and the timers, then free the loop. NULL is a
 * no-op. */
CP_API int cp_loop_free(cp_loop *loop);

typedef enum cp_run_mode {
  CP_RUN_DEFAULT = 0, /* until nothing referenced is left (every ref'd child closed) */
  CP_RUN_ONCE,        /* one turn: wait for at least one event (if anything is alive) and run it */
  CP_RUN_NOWAIT       /* one turn without waiting: for programs that drive the loop themselves */
} cp_run_mode;

/* Runs the loop. Returns 1 if referenced work remains, 0 if none, or a negative CP_E* code if the
 * poller failed. */
CP_API int cp_loop_run(cp_loop *loop, cp_run_mode mode);

/* For a program with its own event loop: a descriptor that becomes readable (POSIX: the epoll fd on
 * Linux, the kqueue fd on macOS and the BSDs; a child's exit makes it readable too) or the IOCP
 * handle (Windows) when cp_loop_run(loop, CP_RUN_NOWAIT) has work, and how many milliseconds to wait
 * on it at most: until the next timer, 0 when work is already pending that the descriptor does not
 * show (a write completed at once, whose callback runs on the next turn), -1 for no limit. Wait on
 * both, then run CP_RUN_NOWAIT. cp_loop_fd() gives CP_INVALID_HANDLE with the poll() backend (systems
 * with neither epoll nor kqueue, or CHILDPROC_FORCE_POLL) and for a NULL loop. */
CP_API cp_os_handle cp_loop_fd(cp_loop *loop);
CP_API int cp_loop_timeout(cp_loop *loop);

/* Timers, as Node's setTimeout/setInterval: an active timer keeps the loop alive. */
typedef struct cp_timer cp_timer;
typedef void (*cp_timer_cb)(cp_timer *t, void *ud);

CP_API int cp_timer_new(cp_loop *loop, cp_timer **out);

/* Fires cb after timeout_ms, then every repeat_ms if that is not 0. Restarts a running timer. */
CP_API int cp_timer_start(cp_timer *t, uint64_t timeout_ms, uint64_t repeat_ms, cp_timer_cb cb, void *ud);
CP_API int cp_timer_stop(cp_timer *t);

/* Stops and frees the timer (also from inside its own callback). NULL is a no-op. */
CP_API void cp_timer_free(cp_timer *t);

/* Events of a child, all optional, in Node's order: on_spawn once it started (or on_error with the
 * reason it could not start, then on_close); on_stdout/on_stderr data (len 0: that stream ended);
 * on_message for each channel message; on_exit once it exited (status, or -1 and the signal; both
 * empty, -1 and 0, only when someone else reaped the child and the kernel could not say how it ended:
 * POSIX before Linux 6.15, docs/security.md);
 * on_disconnect when the channel closes; on_close after the exit and the end of every stdio
 * stream. on_error also reports a failed kill and channel errors. */
typedef struct cp_child_events {
  void (*on_spawn)(cp_child *c, void *ud);
  void (*on_error)(cp_child *c, const cp_error *err, void *ud);
  void (*on_stdout)(cp_child *c, const char *data, size_t len, void *ud);
  void (*on_stderr)(cp_child *c, const char *data, size_t len, void *ud);
  void (*on_message)(cp_child *c, const char *msg, size_t len, void *ud);
  void (*on_exit)(cp_child *c, int64_t status, int signal, void *ud);
  void (*on_disconnect)(cp_child *c, void *ud);
  void (*on_close)(cp_child *c, int64_t status, int signal, void *ud);
} cp_child_events;

/* spawn: starts `file` (as cp_spawn_sync()) on `loop` and returns the child at once in *out. Invalid
 * arguments are returned here (CP_EINVAL, no child), as Node throws; a failure to start (ENOENT...)
 * arrives as on_error then on_close, as in Node; so does a child whose channel, or the watching of
 * its stdout/stderr pipes, could not be set up (CP_ENOMEM...: the process is killed, no on_spawn, no
 * on_exit). options.input is not used (write to
 * stdin instead); timeout_ms and kill_signal apply; max_buffer does not (nothing is buffered). The
 * child must be released with cp_child_free(). `events` is copied; `ud` is passed to every callback. */
CP_API int cp_spawn(cp_loop *loop, const char *file, const char *const *args, const cp_options *options,
                    const cp_child_events *events, void *ud, cp_child **out);

/* fork: cp_spawn() with a message channel (JSON unless options.channel says BINARY) on fd 3 and, unless
 * options.silent, the parent's stdio. Use it to run `node child.js` or any program that opens its
 * parent's channel with cp_channel_open_parent(). */
CP_API int cp_fork(cp_loop *loop, const char *file, const char *const *args, const cp_options *options,
                   const cp_child_events *events, void *ud, cp_child **out);

CP_API int64_t cp_child_pid(const cp_child *c); /* 0 until started, or if it never started */
CP_API bool cp_child_exited(const cp_child *c);
CP_API bool cp_child_killed(const cp_child *c);    /* a kill signal was delivered to it by us */
CP_API bool cp_child_timed_out(const cp_child *c); /* options.timeout_ms passed and it was killed */

/* Sends signum (0 tests liveness). CP_ESRCH once the child exited: never a signal to a recycled
 * pid. CP_EINVAL for a negative or unknown signal number, only returned (Node throws). Other
 * failures (CP_EPERM...) are returned and also reported through on_error. */
CP_API int cp_child_kill(cp_child *c, int signum);

/* Sends signum to the child and all its descendants. The child must have been started with
 * options.detached or options.kill_tree (else CP_EINVAL). Works after the child itself exited while
 * descendants remain (CP_ESRCH when none is left). */
CP_API int cp_child_kill_tree(cp_child *c, int signum);

/* Sends signum to the child (its tree when started as one) and, if it is still alive grace_ms later,
 * SIGKILL. CP_ESRCH when there is nothing left to signal. */
CP_API int cp_child_terminate(cp_child *c, int signum, uint64_t grace_ms);

typedef void (*cp_write_cb)(cp_child *c, int status, void *ud);

/* Queues a copy of buf for the child's stdin (which must be CP_STDIO_PIPE). cb (optional) runs when
 * it was written (status 0) or could not be (CP_EPIPE when the child closed its stdin or exited).
 * Returns CP_EPIPE at once after cp_child_end() or once stdin is gone. */
CP_API int cp_child_write(cp_child *c, const void *buf, size_t len, cp_write_cb cb, void *ud);

/* Bytes queued for stdin and not yet written: the back-pressure signal (Node's writableLength). */
CP_API size_t cp_child_write_queue_size(const cp_child *c);

/* Closes stdin once everything queued is written. */
CP_API int cp_child_end(cp_child *c);

/* Back-pressure on the child's output: stop / resume reading stdout (fd 1) or stderr (fd 2). A child
 * writing while paused blocks once the pipe is full; memory stays bounded. */
CP_API int cp_child_pause(cp_child *c, int fd);
CP_API int cp_child_resume(cp_child *c, int fd);

/* Stops reading stdout (fd 1) or stderr (fd 2) for good and closes the parent's end of that pipe
 * (Node: child.stdout.destroy()). The stream's end (on_stdout/on_stderr with len 0) is delivered
 * during the call, and on_close no longer waits for that stream. What the child (or a descendant
 * holding the pipe) writes afterwards is lost to it: with a pipe it then gets EPIPE / SIGPIPE.
 * Use it after killing a child whose descendants may keep the pipe open, so that on_close comes
 * once the child itself has exited. CP_EINVAL for another fd, CP_EPIPE once the stream is closed. */
CP_API int cp_child_close_output(cp_child *c, int fd);

/* The child's message channel, NULL if it was started without one. It stays valid until
 * cp_child_free(), also once disconnected: cp_channel_send() then returns CP_EPIPE (Node's
 * child.send() after 'disconnect'), and cp_channel_connected() says false. */
CP_API cp_channel *cp_child_channel(cp_child *c);

/* A referenced child keeps cp_loop_run(CP_RUN_DEFAULT) running until it closes (the default). */
CP_API void cp_child_ref(cp_child *c);
CP_API void cp_child_unref(cp_child *c);

/* Releases the child. After its on_close, it is freed at once; before, no callback runs any more
 * and the library frees it when it closes (the loop still reaps it: no zombie). NULL is a no-op. */
CP_API void cp_child_free(cp_child *c);

/* exec / execFile: the async forms of cp_exec_sync() / cp_exec_file_sync(). cb gets the code the sync
 * form would have returned and the result, which is valid during the call and freed by the library
 * after it. To keep it, copy the struct and zero *res (`mine = *res; memset(res, 0, sizeof *res);`),
 * then free your copy with cp_result_free(). Invalid arguments are returned at once (no callback). */
typedef void (*cp_exec_cb)(int rc, cp_result *res, void *ud);
CP_API int cp_exec(cp_loop *loop, const char *command, const cp_options *options, cp_exec_cb cb, void *ud);
CP_API int cp_exec_file(cp_loop *loop, const char *file, const char *const *args, const cp_options *options,
                        cp_exec_cb cb, void *ud);

/* ---------------------------------------------------------------------------------------------
 * The message channel
 *
 * Node's protocol on both platforms, so either side can be Node: POSIX carries the bytes over an
 * AF_UNIX socket; Windows over a duplex named pipe in libuv's IPC frames (a 16-byte header per
 * write), as Node for Windows does. Binary mode uses the same transport on each platform (on
 * Windows its length-prefixed messages travel inside frames); it is for C peers only. A peer that
 * breaks the wire format (Windows: a malformed frame header, or one cut short at the end) is an
 * error through on_error (CP_EPROTO; CP_ENOBUFS for a frame over the limit) and the channel is
 * disconnected. docs/channel.md has the details.
 * ------------------------------------------------------------------------------------------ */

typedef void (*cp_send_cb)(cp_channel *ch, int status, void *ud);

/* Sends one message: in JSON mode one JSON text without a raw newline (CP_EINVAL otherwise), in
 * binary mode any bytes. The data is copied. When nothing is queued before it, it is written to the
 * socket during the call as far as the socket takes it (libuv's try-write), so a process that exits
 * right after sending loses nothing the socket buffer could hold; the rest is queued and written by
 * the loop (a message larger than the free socket buffer, followed at once by exit(), loses its
 * tail: return to the loop, or wait for cb). cb (optional) runs on a later loop turn once it was
 * written (0) or could not be (CP_EPIPE, or the write's error); without cb, a write error other than
 * CP_EPIPE goes to the channel's on_error (the child's on_error for a child's channel), as Node emits
 * 'error' - either way the channel is then disconnected. CP_EPIPE at once when the channel is
 * disconnected; CP_ENOBUFS when longer than the channel's limit; CP_ENOMEM when the rest could not be
 * queued (if part of the message had gone already, the channel is then disconnected: the peer sees a
 * message cut at its end, never one spliced with the next). */
CP_API int cp_channel_send(cp_channel *ch, const void *msg, size_t len, cp_send_cb cb, void *ud);

/* Closes the channel after the queued messages are written; the peer sees its end (Node: the
 * 'disconnect' event). Both sides then get on_disconnect. */
CP_API int cp_channel_disconnect(cp_channel *ch);
CP_API bool cp_channel_connected(const cp_channel *ch);

/* In a program started with a channel (by cp_fork(), cp_fork_worker() or Node's fork/ipc stdio):
 * opens it from NODE_CHANNEL_FD and NODE_CHANNEL_SERIALIZATION_MODE, and removes both from the
 * environment so grandchildren don't inherit them (as Node does). CP_ENOENT if there is none.
 * The channel keeps the loop alive until it is disconnected (by either side). Free it with
 * cp_channel_free(). */
typedef struct cp_channel_events {
  void (*on_message)(cp_channel *ch, const char *msg, size_t len, void *ud);
  void (*on_disconnect)(cp_channel *ch, void *ud);
  void (*on_error)(cp_channel *ch, const cp_error *err, void *ud);
} cp_channel_events;
CP_API int cp_channel_open_parent(cp_loop *loop, const cp_channel_events *events, void *ud, cp_channel **out);

/* Replaces the callbacks of a channel (a worker's channel starts with none). */
CP_API int cp_channel_set_events(cp_channel *ch, const cp_channel_events *events, void *ud);

/* Frees a channel from cp_channel_open_parent() (disconnecting it first if needed). */
CP_API void cp_channel_free(cp_channel *ch);

/* ---------------------------------------------------------------------------------------------
 * Workers: fork a function of this same executable (Node's fork(module) for C, on every platform)
 * ------------------------------------------------------------------------------------------ */

/* A worker runs in a new process of this program with a channel to its parent (`ch` is NULL when the
 * process was started without one, e.g. by cp_exec_file() with CHILDPROC_WORKER set). It sets up its
 * callbacks on `loop`/`ch` and returns; the loop then runs until the channel disconnects and nothing
 * else is referenced. Its return value (0..255) is the process's exit status unless it exits itself. */
typedef int (*cp_worker_fn)(cp_loop *loop, cp_channel *ch, int argc, char **argv, void *ud);

typedef struct cp_worker_def {
  const char *name;
  cp_worker_fn fn;
  void *ud;
} cp_worker_def;

/* Call first thing in main(). In a process started by cp_fork_worker() it runs the named worker and
 * returns true with *exit_status set (main should return it); in any other process it returns false
 * at once. */
CP_API bool cp_worker_main(int argc, char **argv, const cp_worker_def *workers, size_t count,
                           int *exit_status);

/* Starts worker `name` of this executable (found with cp_worker_main() in the new process) with `args`
 * as its argv[1..], a channel (options.channel, JSON by default) and fork's stdio defaults. */
CP_API int cp_fork_worker(cp_loop *loop, const char *name, const char *const *args, const cp_options *options,
                          const cp_child_events *events, void *ud, cp_child **out);

/* ---------------------------------------------------------------------------------------------
 * Requests and replies on a channel
 *
 * The wire format is the one Node programs already write. A request is the caller's JSON object
 * with an "id" member added by the library ({"id":7,"cmd":"sum","data":[1,2]}); a reply is an
 * object with the same "id" and either "result" (any JSON value) or "error" (a string):
 * {"id":7,"result":3} or {"id":7,"error":"no such command"}. So a Node worker written the plain way,
 *   process.on('message', m => process.send({ id: m.id, result: work(m) }))
 * serves childproc requests unchanged, and a childproc worker using cp_channel_serve() serves a Node
 * parent that correlates by id. Only JSON channels carry requests.
 * ------------------------------------------------------------------------------------------ */

/* The outcome of a request (and of a pool task). Valid only during the callback: copy what you keep.
 *   code == CP_OK: the peer replied. Exactly one of `result` (the "result" member's JSON text, "null"
 *     when the reply had no result) and `error` (the "error" string, decoded) is non-NULL.
 *   code < 0: there is no reply; `error` is a sentence saying why (never NULL). Requests:
 *     CP_EPIPE (the channel closed first), CP_EIO (the reply with this id was malformed: its "error"
 *     is not a string, or it has both "result" and "error"). Pool tasks add CP_ECHILDFAILED (the
 *     worker died running it on every attempt: exit_status/signal say how the last one ended),
 *     CP_ETIMEDOUT (it passed task_timeout_ms on its last attempt), CP_ECANCELED (the pool was shut
 *     down with CP_POOL_CANCEL), CP_ENOMEM (the task could not be sent for lack of memory: it is
 *     not sent to the same worker again at once) and the error the workers failed to start with
 *     (CP_ENOENT, CP_ENOMEM...; else CP_ECHILDFAILED) when the pool gave up starting them, during a
 *     drain too.
 * Both strings are NUL-terminated; the lengths don't count the NUL. */
typedef struct cp_reply {
  int code;
  const char *result;
  size_t result_len;
  const char *error;
  size_t error_len;
  unsigned attempts;   /* pool: how many times the task was sent to a worker; requests: 1 */
  int64_t exit_status; /* pool, CP_ECHILDFAILED/CP_ETIMEDOUT: the last worker's exit status, -1 if none */
  int signal;          /* ... the signal that ended it, 0 if none */
} cp_reply;

/* Runs exactly once per request or task that was accepted. */
typedef void (*cp_reply_cb)(const cp_reply *reply, void *ud);

/* Sends a request on a JSON channel. `json` (len bytes) must be one JSON object without an "id"
 * member; the library adds "id" (a number unique on this channel) and cb runs once with the reply
 * carrying that id, however many requests are in flight and in whatever order the replies come.
 * Replies are taken out of the message stream: on_message never sees them.
 * Returns 0, or (and cb never runs):
 *   CP_EINVAL   ch or cb NULL, json not one JSON object, json already has "id", a binary channel
 *   CP_EPIPE    the channel is disconnected
 *   CP_ENOBUFS  the request is longer than the channel's message limit
 *   CP_ENOMEM   out of memory
 * A channel that closes fails the pending requests with CP_EPIPE (before on_disconnect); freeing the
 * channel drops them without their callbacks. */
CP_API int cp_channel_request(cp_channel *ch, const char *json, size_t len, cp_reply_cb cb, void *ud);

/* What is wrong with an incoming message on a channel used for requests or serving. */
typedef enum cp_bad_message {
  CP_BAD_UNKNOWN_ID = 1, /* a reply (an object with "id" and "result" or "error") whose id no request
                          * is waiting for: a duplicate, or a reply to a request of someone else.
                          * It is dropped. */
  CP_BAD_MALFORMED,      /* not one JSON text, or a reply with a known id but a bad shape (that
                          * request then fails with CP_EIO) */
  CP_BAD_NOT_OBJECT,     /* valid JSON but not an object */
  CP_BAD_NO_ID           /* an object without "id": neither a request nor a reply */
} cp_bad_message;

typedef void (*cp_bad_message_cb)(cp_channel *ch, cp_bad_message kind, const char *msg, size_t len, void *ud);

/* Reports every bad message (see cp_bad_message) to cb (NULL: stop reporting; they are still
 * counted). Messages that are neither replies nor requests are also delivered to on_message as
 * usual, so a channel can carry other traffic. CP_EINVAL for a NULL channel, CP_ENOMEM. */
CP_API int cp_channel_on_bad_message(cp_channel *ch, cp_bad_message_cb cb, void *ud);

/* Counters of the request layer of a channel (all zero on a channel that never used it). */
typedef struct cp_request_stats {
  uint64_t sent;        /* requests sent */
  uint64_t replied;     /* replies matched to a request (result or error) */
  uint64_t failed;      /* requests that ended without a reply (CP_EPIPE, CP_EIO) */
  uint64_t pending;     /* requests waiting for their reply */
  uint64_t served;      /* requests received by the cp_channel_serve() handler */
  uint64_t unknown_id, malformed, not_object, no_id; /* bad messages, by kind */
} cp_request_stats;

/* Fills *out. CP_EINVAL for NULL arguments. */
CP_API int cp_channel_request_stats(const cp_channel *ch, cp_request_stats *out);

/* One request received by a server (cp_channel_serve). Answer it exactly once, from inside the
 * handler or later (out of order is fine), with cp_request_reply() or cp_request_fail(). */
typedef struct cp_request cp_request;

/* The handler: `msg` (len bytes, the whole request object including its "id") is valid only during
 * the call. */
typedef void (*cp_serve_cb)(cp_request *req, const char *msg, size_t len, void *ud);

/* Serves requests arriving on a JSON channel (in a worker: the channel cp_worker_main() hands it):
 * every incoming object with an "id" (and no "result"/"error") goes to handler. NULL handler stops
 * serving. CP_EINVAL for a NULL or binary channel; CP_ENOMEM. */
CP_API int cp_channel_serve(cp_channel *ch, cp_serve_cb handler, void *ud);

/* Answers req with {"id":<its id>,"result":<result_json>} and releases it. result_json (len bytes)
 * must be one JSON value. Returns 0; CP_EINVAL (NULL req, result not JSON: req stays open, answer it
 * again); CP_EPIPE (the channel is gone: req is released); CP_ENOMEM, CP_ENOBUFS (req released). */
CP_API int cp_request_reply(cp_request *req, const char *result_json, size_t len);

/* Answers req with {"id":<its id>,"error":"<message>"} (message is a UTF-8 string, escaped here) and
 * releases it. Errors as cp_request_reply(), message NULL being CP_EINVAL. */
CP_API int cp_request_fail(cp_request *req, const char *message);

/* The channel a request came on (NULL once that channel is freed). */
CP_API cp_channel *cp_request_channel(const cp_request *req);

/* ---------------------------------------------------------------------------------------------
 * The worker pool
 *
 * N worker processes (functions of this executable, or any command that speaks the channel such as
 * `node worker.js`), a bounded FIFO queue of JSON tasks, and the edge cases handled: a worker that
 * crashes is replaced and its tasks requeued up to max_retries; a task past task_timeout_ms gets its
 * worker killed (kill_after_ms escalation) and is retried or failed; workers are recycled after
 * max_tasks_per_worker tasks or past max_worker_rss bytes, between tasks; workers that cannot start
 * are restarted with back-off until max_start_failures, then the pool fails its queue; shutdown
 * drains or cancels, then disconnects the workers and kills those that don't exit. Every task
 * accepted by cp_pool_submit() gets its callback exactly once (unless the pool is freed first). A
 * task may *run* more than once (at-least-once delivery: a worker can crash after doing the work
 * and before replying); see docs/pool.md. All on one loop, one thread.
 * ------------------------------------------------------------------------------------------ */

typedef struct cp_pool cp_pool;

/* What cp_pool_submit() does when the queue holds max_queue tasks. */
typedef enum cp_pool_full {
  CP_POOL_FULL_FAIL = 0, /* return CP_EAGAIN (submit again from a task callback) */
  CP_POOL_FULL_WAIT      /* run the loop inside cp_pool_submit() until there is room; from inside a
                          * callback of the pool's loop (where the loop cannot be re-entered) it
                          * returns CP_EAGAIN as FAIL does */
} cp_pool_full;

/* max_retries value meaning "never retry" (0 means the default, 1). */
#define CP_POOL_NO_RETRY (-1)

/* Pool options; the zero value of every field is the documented default. Strings and arrays are
 * copied by cp_pool_new(). */
typedef struct cp_pool_options {
  /* Number of workers; 0 = the number of CPUs. */
  unsigned workers;

  /* What a worker is: worker_name, a worker of this executable (cp_fork_worker(); main() must call
   * cp_worker_main() and the worker serve requests, e.g. with cp_channel_serve()); or else file, a
   * program started with cp_fork() (e.g. "node" with args {"worker.js", NULL}). Exactly one of them
   * must be set. args (NULL-terminated, may be NULL) are its arguments. */
  const char *worker_name;
  const char *file;
  const char *const *args;

  /* Options for every worker (cwd, env, stdio, kill_tree, kill_signal...). The channel is always
   * JSON (CP_CHANNEL_BINARY is CP_EINVAL); options.timeout_ms limits a worker's whole life, which is
   * rarely wanted: use task_timeout_ms. */
  cp_options options;

  /* Tasks sent to one worker at a time; 0 = 1. */
  unsigned max_in_flight;

  /* Tasks waiting for a worker; 0 = 10000. `full` says what a submit to a full queue does. */
  size_t max_queue;
  cp_pool_full full;

  /* Times a task is sent again after its worker died (or was killed for a timeout) while running
   * it; 0 = 1, CP_POOL_NO_RETRY = never, n > 0 = n. */
  int max_retries;

  /* A task running longer than this gets its worker killed and replaced; 0 = no limit. */
  uint64_t task_timeout_ms;

  /* Replace a worker after it completed this many tasks (between tasks); 0 = never. */
  uint64_t max_tasks_per_worker;

  /* Replace a worker whose resident memory is above this many bytes, checked after each task it
   * completes; 0 = never. CP_ENOTSUP from cp_pool_new() where the platform cannot measure it. */
  uint64_t max_worker_rss;

  /* Grace for a worker told to stop: after a timeout kill (options.kill_signal, SIGTERM by
   * default) or a disconnect (recycling, shutdown), it is SIGKILLed (terminated) if still alive this
   * many ms later. 0 = 2000; negative = SIGKILL at once, no grace. */
  int64_t kill_after_ms;

  /* Back-off between restarts while workers keep failing to start (exit before ever replying):
   * restart_delay_ms doubling per consecutive failure up to restart_delay_max_ms; 0 = 50 and 2000.
   * After max_start_failures consecutive failures (0 = 5) the pool gives up: queued tasks fail with
   * the workers' error, on_error runs, and cp_pool_submit() returns that error. A worker that
   * replies once resets the count. */
  uint64_t restart_delay_ms;
  uint64_t restart_delay_max_ms;
  unsigned max_start_failures;

  /* Optional: pool-level errors (the pool gave up on its workers). */
  void (*on_error)(cp_pool *pool, const cp_error *err, void *ud);
  void *ud;
} cp_pool_options;

/* Creates a pool on `loop` and starts its workers. Returns 0 and *out, or CP_EINVAL (NULL
 * arguments, neither or both of worker_name/file, a binary channel, negative max_retries other than
 * CP_POOL_NO_RETRY, an invalid option in options as cp_spawn() checks them), CP_ENOTSUP
 * (max_worker_rss where resident memory cannot be read), CP_ENOMEM. A worker that cannot start is
 * not an error here: it is retried as above. */
CP_API int cp_pool_new(cp_loop *loop, const cp_pool_options *options, cp_pool **out);

/* Queues a task: `json` (len bytes, copied) must be one JSON object without an "id" member (CP_EINVAL
 * otherwise). cb runs exactly once, with the reply or the reason there is none (see cp_reply).
 * Returns 0, or (cb never runs) CP_EINVAL, CP_EAGAIN (the queue is full, see cp_pool_options.full),
 * CP_EPIPE (cp_pool_shutdown() was called), the pool's error once it gave up on its workers,
 * CP_ENOMEM. */
CP_API int cp_pool_submit(cp_pool *pool, const char *json, size_t len, cp_reply_cb cb, void *ud);

typedef enum cp_pool_shutdown_mode {
  CP_POOL_DRAIN = 0, /* finish every queued and running task first */
  CP_POOL_CANCEL     /* fail queued and running tasks with CP_ECANCELED at once */
} cp_pool_shutdown_mode;

typedef void (*cp_pool_done_cb)(cp_pool *pool, void *ud);

/* Stops the pool: no more submits (CP_EPIPE); drains or cancels the tasks; then disconnects every
 * worker and kills those still alive kill_after_ms later. done (optional) runs once every worker has
 * exited and every task callback ran; then cp_pool_free() releases the pool. Calling it again turns
 * a drain into a cancel (the first done callback stays). CP_EINVAL for a NULL pool or a bad mode. */
CP_API int cp_pool_shutdown(cp_pool *pool, cp_pool_shutdown_mode mode, cp_pool_done_cb done, void *ud);

/* Counters and gauges of a pool. */
typedef struct cp_pool_stats {
  uint64_t submitted;     /* tasks accepted */
  uint64_t succeeded;     /* tasks answered with a result */
  uint64_t errored;       /* tasks answered with an error string by the worker */
  uint64_t failed;        /* tasks that ended without a reply (code < 0), canceled included */
  uint64_t canceled;      /* of those, CP_ECANCELED */
  uint64_t retries;       /* times a task was requeued after its worker died under it */
  uint64_t timeouts;      /* times a task passed task_timeout_ms */
  uint64_t workers_started;
  uint64_t restarts;      /* workers started to replace one that exited or was recycled */
  uint64_t crashes;       /* workers that exited without being asked to (killed for a timeout included) */
  uint64_t recycled;      /* workers replaced for max_tasks_per_worker or max_worker_rss */
  uint64_t bad_messages;  /* bad messages from workers, every kind (see cp_bad_message) */
  size_t queued;          /* tasks waiting for a worker */
  size_t in_flight;       /* tasks sent to a worker and not finished */
  unsigned workers;       /* worker processes alive (starting, working or stopping) */
  unsigned start_failures; /* consecutive workers that failed to start */
  bool broken;            /* the pool gave up starting workers */
  bool shutting_down;
} cp_pool_stats;

/* Fills *out. CP_EINVAL for NULL arguments. */
CP_API int cp_pool_stats_get(const cp_pool *pool, cp_pool_stats *out);

/* Frees the pool. Workers still running are SIGKILLed and reaped by the loop; task callbacks that
 * have not run never run (use cp_pool_shutdown() first to get them). Safe inside a task callback (the
 * pool goes once the callback returns). NULL is a no-op. */
CP_API void cp_pool_free(cp_pool *pool);

/* The library version, "MAJOR.MINOR.PATCH". */
CP_API const char *cp_version(void);

#ifdef __cplusplus
}
#endif

#endif /* CHILDPROC_H */
