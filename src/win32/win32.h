/* win32.h - what the Windows backend's files share: UTF-8/UTF-16 conversion, the error mapping,
 * overlapped operations on the loop's completion port, command-line building and the program
 * search. Not public; tests/win32 include it to unit-test the pure functions (static builds only). */
#ifndef CP_WIN32_H
#define CP_WIN32_H

#include "../internal.h"
#include "../os.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

/* ---- strings and errors (util.c) -------------------------------------------------------------- */

/* A new UTF-16 copy of UTF-8 `s` (NULL on invalid UTF-8 or no memory: *rc says which,
 * CP_EINVAL or CP_ENOMEM). */
wchar_t *win32_utf16(const char *s, int *rc);

/* A new UTF-8 copy of n UTF-16 units of w (n < 0: up to the NUL). Unpaired surrogates become
 * U+FFFD. NULL when out of memory. */
char *win32_utf8(const wchar_t *w, int n);

/* Maps a GetLastError() value to a CP_E* code (the one place that does it). */
int win32_error(DWORD e);

/* ---- the completion port (loop.c) ------------------------------------------------------------ */

/* Every overlapped operation and every packet posted to the port starts with this. `done` runs
 * from os_loop_poll() when the packet is dequeued, with the bytes transferred and the Win32 error
 * (0 on success). */
typedef struct win32_op win32_op;
struct win32_op {
  OVERLAPPED ov;
  void (*done)(win32_op *op, DWORD bytes, DWORD error);
  DWORD posted_error; /* for packets we post ourselves (win32_post) */
  bool posted;
  HANDLE handle; /* the file the operation is on, to read its result; NULL for posted packets */
};

HANDLE win32_loop_iocp(os_loop *loop);

/* Associates a handle opened for overlapped I/O with the loop's port. */
int win32_loop_associate(os_loop *loop, HANDLE h);

/* Queues op->done(op, 0, error) for the next os_loop_poll() (callbacks never run inside the call
 * that caused them). */
int win32_post(os_loop *loop, win32_op *op, DWORD error);

/* Objects closed by the shared code whose packets are still owed by the kernel (cancelled reads,
 * writes, a posted exit): the loop keeps count so os_loop_free() can wait for them instead of
 * freeing memory the kernel may still write to. */
void win32_loop_zombie_add(os_loop *loop, int n);

/* ---- streams (stream.c) ---------------------------------------------------------------------- */

/* Wraps an overlapped pipe handle (the stream owns it from now on) and associates it with the port. */
int win32_stream_new(os_loop *loop, HANDLE h, os_stream **out);

/* A uniquely named pipe: *server is the parent's end (overlapped, non-inheritable), *client the
 * other end (non-inheritable; synchronous unless client_overlapped). `duplex` opens both ends for
 * reading and writing (the channel); otherwise data flows parent->child when child_reads, else
 * child->parent. */
int win32_pipe_pair(bool duplex, bool child_reads, bool client_overlapped, HANDLE *server, HANDLE *client,
                    DWORD *os_error);

/* ---- command lines (quote.c) ------------------------------------------------------------------- */

/* Appends arg quoted for the MSVCRT / CommandLineToArgvW rules to b (UTF-8). */
int win32_append_quoted(cp__buf *b, const char *arg);

/* The command line for argv (UTF-8): argv[0] quoted for the program-name rule (it cannot hold a
 * '"': CP_EINVAL), the rest with win32_append_quoted(); verbatim joins them with spaces unchanged.
 * err (may be NULL) gets the message on failure. */
int win32_make_cmdline(const char *const *argv, bool verbatim, char **out, cp_error *err);

/* The cmd.exe command line that runs batch file `script` (a full path) with argv[1..]:
 *   "<comspec>" /d /e:ON /v:OFF /s /c ""<script>" <arg>..."
 * each argument escaped for cmd.exe on top of the MSVCRT rules, so none can start another command
 * or expand a variable. A script path holding '"' and an argument holding CR or LF are refused with
 * CP_EINVAL (message naming it). verbatim passes the arguments unchanged (the caller's risk). */
int win32_make_bat_cmdline(const char *comspec, const char *script, const char *const *argv, bool verbatim,
                           char **out, cp_error *err);

/* Whether path (a resolved full path) names a .bat or .cmd file: the last extension, compared
 * case-insensitively, after trailing dots and spaces (which Windows strips) are ignored. */
bool win32_is_batch_file(const wchar_t *path);

/* The maximum length of a CreateProcessW command line, in UTF-16 units, the NUL included. */
#define WIN32_CMDLINE_MAX 32767

/* ---- program search (search.c) ------------------------------------------------------------------ */

/* Resolves `file` as CreateProcess users expect (see search.c): the full path of the program to run,
 * a new UTF-16 string. envp is the child's environment (for PATHEXT). */
int win32_search(const char *file, const char *path_env, const char *const *envp, const char *cwd,
                 wchar_t **out, cp_error *err);

/* ---- environment (env.c) ---------------------------------------------------------------------------- */

/* The child's environment block: envp sorted case-insensitively by name (CompareStringOrdinal),
 * the variables Windows programs need added from the parent when envp lacks them, UTF-16,
 * double-NUL terminated. */
int win32_make_env_block(const char *const *envp, wchar_t **out);

/* The command interpreter: %ComSpec% if set, else <system dir>\cmd.exe. A new UTF-8 string. */
char *win32_comspec(void);

#endif /* CP_WIN32_H */
