/* exec-ls - Node's exec('ls -l', (error, stdout, stderr) => ...) in C, with every way it can end.
 *
 * The Node guide's example:
 *
 *   exec('ls -l', (error, stdout, stderr) => {
 *     if (error) { console.error(`exec error: ${error}`); return; }
 *     console.log(`stdout: ${stdout}`);
 *     console.error(`stderr: ${stderr}`);
 *   });
 *
 * Here cp_exec() runs the command line through the shell (/bin/sh -c, or cmd.exe on Windows) on a
 * loop and calls back with the buffered result, as Node does. Three runs show the three outcomes a
 * caller has to handle:
 *   1. success: rc 0, the output in res->out;
 *   2. the command ran and failed: CP_ECHILDFAILED, with res->status (or res->signal) and what it
 *      wrote on stderr in res->err;
 *   3. the program could not be started at all: CP_ENOENT with res->error.syscall and .path. Through
 *      a shell a missing command is only the shell's exit status 127 (case 2), so this one uses
 *      cp_exec_file(), which starts the program itself.
 * (The blocking forms, cp_exec_sync() and cp_exec_file_sync(), return the same codes and result.)
 *
 * Exits 0 when each run ended the way it should.
 */
#include <childproc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#define LIST_COMMAND         "dir"
#define LIST_MISSING_COMMAND "dir C:\\no\\such\\directory"
#else
#define LIST_COMMAND         "ls -l"
#define LIST_MISSING_COMMAND "ls -l /no/such/directory"
#endif

typedef struct outcome {
  int rc;
  bool done;
} outcome;

/* The callback: what Node's (error, stdout, stderr) callback does, with the C result. */
static void on_exec_done(int rc, cp_result *res, void *ud) {
  outcome *o = ud;
  o->rc = rc;
  o->done = true;
  if (rc == 0) {
    printf("  stdout (%zu bytes):\n%s", res->out.len, res->out.data);
    if (res->err.len) printf("  stderr: %s", res->err.data);
  } else if (rc == CP_ECHILDFAILED) {
    /* It ran: say how it ended, and show what it said on stderr. */
    if (res->signal)
      printf("  exec error: %s\n  killed by %s\n", res->error.message, cp_signal_name(res->signal));
    else
      printf("  exec error: %s\n  exit status %lld\n", res->error.message, (long long)res->status);
    printf("  stderr: %s", res->err.len ? res->err.data : "(empty)\n");
  } else {
    /* It never ran (or was killed for a limit): the error names the step and the path. */
    printf("  exec error: %s\n  code %s, syscall %s, path %s\n", res->error.message, cp_err_name(rc),
           res->error.syscall ? res->error.syscall : "-", res->error.path ? res->error.path : "-");
  }
  /* res belongs to the library and is freed after this returns (move it out to keep it). */
}

/* Runs one exec (or execFile when args is given) to completion on the loop. */
static int run(cp_loop *loop, const char *title, const char *command, const char *file,
               const char *const *args) {
  outcome o = {0, false};
  cp_options opts = {.timeout_ms = 10000};
  printf("%s\n", title);
  int rc = command ? cp_exec(loop, command, &opts, on_exec_done, &o)
                   : cp_exec_file(loop, file, args, &opts, on_exec_done, &o);
  if (rc) {
    /* Invalid arguments are refused at once, as Node throws. */
    fprintf(stderr, "  cannot start: %s\n", cp_strerror(rc));
    return rc;
  }
  rc = cp_loop_run(loop, CP_RUN_DEFAULT);
  if (rc < 0) {
    fprintf(stderr, "  loop failed: %s\n", cp_strerror(rc));
    return rc;
  }
  return o.done ? o.rc : CP_EIO;
}

int main(void) {
  cp_loop *loop;
  int rc = cp_loop_new(&loop);
  if (rc) {
    fprintf(stderr, "exec-ls: cp_loop_new: %s\n", cp_strerror(rc));
    return 1;
  }
  int failures = 0;

  printf("$ %s\n", LIST_COMMAND);
  if (run(loop, "1. a command that works:", LIST_COMMAND, NULL, NULL) != 0) failures++;

  printf("\n$ %s\n", LIST_MISSING_COMMAND);
  if (run(loop, "2. a command that fails:", LIST_MISSING_COMMAND, NULL, NULL) != CP_ECHILDFAILED) failures++;

  static const char *const no_args[] = {"-l", NULL};
  printf("\n$ no-such-program-childproc -l   (execFile: no shell)\n");
  if (run(loop, "3. a program that does not exist:", NULL, "no-such-program-childproc", no_args) != CP_ENOENT)
    failures++;

  cp_loop_free(loop);
  printf("\nexec-ls: %s\n", failures ? "UNEXPECTED OUTCOME" : "each case ended as expected");
  return failures ? 1 : 0;
}
