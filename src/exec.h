/* exec.h - buffered runs (exec, execFile and the sync forms), internal. */
#ifndef CP_EXEC_H
#define CP_EXEC_H

#include "internal.h"
#include "loop.h"

typedef struct cp__exec cp__exec;

/* Starts a buffered run on loop; cb gets the result once the child closed. Problems found before
 * starting are returned (with *err filled when err is not NULL) and cb never runs. `form` is the
 * Node function this run stands for: "spawnSync", "execSync", "execFileSync", "exec" or "execFile";
 * all but spawnSync fail a non-zero exit (CP_ECHILDFAILED), and the errors of the run (timeout,
 * maxBuffer, failed command) carry it as their syscall ("spawnSync" for the three sync forms'
 * timeout and maxBuffer, as Node's spawnSync labels them). */
int cp__exec_start(cp_loop *loop, const char *file, const char *const *args, const char *command,
                   const cp_options *o, const char *form, cp_exec_cb cb, void *ud, cp_error *err);

/* A fresh result: status -1, empty NUL-terminated buffers. Out of memory: CP_ENOMEM, also set in
 * res->error, and the buffers point at static empty strings (cp_result_free() knows them). */
int cp__result_init(cp_result *res);

#endif /* CP_EXEC_H */
