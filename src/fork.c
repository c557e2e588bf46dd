/* fork.c - fork (a child with a message channel), the child's side of the channel, and workers:
 * functions of this same executable started in a new process (Node's fork(module) for C). */
#include "channel.h"
#include "child.h"

#include <stdlib.h>
#include <string.h>

#define WORKER_ENV "CHILDPROC_WORKER"

/* fork's defaults over the user's options: a JSON channel, and the parent's stdio unless silent. */
static cp_options fork_options(const cp_options *options) {
  cp_options o = options ? *options : (cp_options){0};
  if (o.channel == CP_CHANNEL_NONE) o.channel = CP_CHANNEL_JSON;
  if (!o.silent)
    for (int i = 0; i < 3; i++)
      if (o.stdio[i].kind == CP_STDIO_PIPE) o.stdio[i].kind = CP_STDIO_INHERIT;
  return o;
}

static int fork_start(cp_loop *loop, const char *file, const char *const *args, const cp_options *options,
                      const char *const *extra_env, const cp_child_events *events, void *ud, cp_child **out) {
  if (out) *out = NULL;
  if (!loop || !out) return CP_EINVAL;
  cp_options o = fork_options(options);
  cp__prepared p;
  int rc = cp__prepare(&p, file, args, NULL, &o, extra_env, NULL);
  if (rc == 0) rc = cp__child_start(loop, &p, &o, events, ud, out);
  cp__prepared_free(&p);
  return rc;
}

int cp_fork(cp_loop *loop, const char *file, const char *const *args, const cp_options *options,
            const cp_child_events *events, void *ud, cp_child **out) {
  return fork_start(loop, file, args, options, NULL, events, ud, out);
}

int cp_fork_worker(cp_loop *loop, const char *name, const char *const *args, const cp_options *options,
                   const cp_child_events *events, void *ud, cp_child **out) {
  if (out) *out = NULL;
  if (!name || !*name || strchr(name, '=')) return CP_EINVAL;
  char *self = NULL;
  int rc = os_self_exe(&self);
  if (rc) return rc;
  size_t n = strlen(WORKER_ENV) + strlen(name) + 2;
  char *var = malloc(n);
  if (!var) {
    free(self);
    return CP_ENOMEM;
  }
  strcpy(var, WORKER_ENV "=");
  strcat(var, name);
  const char *extra[] = {var, NULL};
  cp_options o = options ? *options : (cp_options){0};
  if (!o.argv0) o.argv0 = self;
  rc = fork_start(loop, self, args, &o, extra, events, ud, out);
  free(var);
  free(self);
  return rc;
}

int cp_channel_open_parent(cp_loop *loop, const cp_channel_events *events, void *ud, cp_channel **out) {
  if (out) *out = NULL;
  if (!loop || !out) return CP_EINVAL;
  const char *fd = getenv("NODE_CHANNEL_FD");
  if (!fd || !*fd) return CP_ENOENT;
  const char *mode_s = getenv("NODE_CHANNEL_SERIALIZATION_MODE");
  cp_channel_mode mode;
  if (!mode_s || !*mode_s || strcmp(mode_s, "json") == 0)
    mode = CP_CHANNEL_JSON;
  else if (strcmp(mode_s, "binary") == 0)
    mode = CP_CHANNEL_BINARY;
  else
    return CP_ENOTSUP; /* Node's "advanced" (V8 serialization) mode */
  os_stream *s = NULL;
  int rc = os_channel_open(loop->os, fd, &s);
  if (rc) return rc;
  rc = cp__channel_new(loop, s, mode, 0, events, ud, true, out);
  if (rc) {
    os_stream_close(s);
    return rc;
  }
  os_env_unset("NODE_CHANNEL_FD");
  os_env_unset("NODE_CHANNEL_SERIALIZATION_MODE");
  return 0;
}

bool cp_worker_main(int argc, char **argv, const cp_worker_def *workers, size_t count, int *exit_status) {
  const char *name = getenv(WORKER_ENV);
  if (!name || !exit_status) return false;
  const cp_worker_def *def = NULL;
  for (size_t i = 0; workers && i < count; i++)
    if (workers[i].name && strcmp(workers[i].name, name) == 0) def = &workers[i];
  if (!def) return false; /* not one of ours: the program runs as itself */
  os_env_unset(WORKER_ENV);
  *exit_status = 70; /* EX_SOFTWARE: the worker could not be set up */
  cp_loop *loop = NULL;
  cp_channel *ch = NULL;
  if (cp_loop_new(&loop)) return true;
  int rc = cp_channel_open_parent(loop, NULL, NULL, &ch);
  if (rc == 0 || rc == CP_ENOENT) { /* started without a channel (by exec, say): ch is NULL */
    *exit_status = def->fn(loop, ch, argc, argv, def->ud);
    cp_loop_run(loop, CP_RUN_DEFAULT);
    /* Still connected (the loop stopped early): what is queued goes out before the process ends. */
    if (ch && cp_channel_connected(ch) && cp_channel_disconnect(ch) == 0) cp_loop_run(loop, CP_RUN_DEFAULT);
    cp_channel_free(ch);
    cp_loop_run(loop, CP_RUN_DEFAULT);
  }
  cp_loop_free(loop);
  return true;
}
