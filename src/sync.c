/* sync.c - spawnSync, execFileSync and execSync: a buffered run on a private loop, as Node's
 * spawn_sync does. */
#include "exec.h"
#include "prepare.h"

#include <stdlib.h>
#include <string.h>

#define SYNC_POLL_TRIES 16

typedef struct sync_state {
  bool done;
  int rc;
  cp_result *res;
} sync_state;

static void sync_done(int rc, cp_result *res, void *ud) {
  sync_state *s = ud;
  s->done = true;
  s->rc = rc;
  cp_result_free(s->res);
  *s->res = *res; /* take it over: the library frees what is left in *res, i.e. nothing */
  memset(res, 0, sizeof *res);
}

static int run_sync(const char *file, const char *const *args, const char *command, const cp_options *o,
                    cp_result *res, const char *form) {
  if (!res) return CP_EINVAL;
  int rc = cp__result_init(res); /* CP_ENOMEM is in res->error too */
  if (rc) return rc;
  rc = o ? cp__check_stdio(o, &res->error) : 0;
  if (rc) return rc;
  cp_loop loop;
  rc = cp__loop_init(&loop);
  if (rc) return cp__error_set(&res->error, rc, 0, "spawn", NULL);
  sync_state s = {false, 0, res};
  rc = cp__exec_start(&loop, file, args, command, o, form, sync_done, &s, &res->error);
  if (rc == 0) {
    rc = cp_loop_run(&loop, CP_RUN_DEFAULT);
    /* A failing poller (poll()'s ENOMEM) stops the loop with the child still running and its pipes
     * open: the wait is tried again, a bounded number of times, before the run is given up. */
    for (int tries = 1; rc && !s.done && tries < SYNC_POLL_TRIES; tries++) rc = cp_loop_run(&loop, CP_RUN_DEFAULT);
    if (s.done) { /* the result is complete, whatever a later turn of the poller did */
      rc = s.rc;
    } else if (!s.done) {
      /* Only a failing poller can stop the loop early; nothing more can be awaited. */
      cp__error_set(&res->error, rc ? rc : CP_EIO, 0, "poll", NULL);
      rc = rc ? rc : CP_EIO;
    }
  }
  cp__loop_close(&loop);
  return rc;
}

int cp_spawn_sync(const char *file, const char *const *args, const cp_options *options, cp_result *res) {
  return run_sync(file, args, NULL, options, res, "spawnSync");
}

int cp_exec_file_sync(const char *file, const char *const *args, const cp_options *options, cp_result *res) {
  return run_sync(file, args, NULL, options, res, "execFileSync");
}

int cp_exec_sync(const char *command, const cp_options *options, cp_result *res) {
  if (!command) {
    if (!res) return CP_EINVAL;
    cp__result_init(res); /* out of memory or not, the error to report is this one */
    return cp__error_setf(&res->error, CP_EINVAL, 0, "spawn", NULL, "spawn EINVAL: the command is NULL");
  }
  return run_sync(NULL, NULL, command, options, res, "execSync");
}
