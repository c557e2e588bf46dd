/* prepare.h - options checking and defaulting: from the public arguments to an os_spawn_req. */
#ifndef CP_PREPARE_H
#define CP_PREPARE_H

#include "os.h"

typedef struct cp__prepared {
  os_spawn_req req;
  const char **argv; /* owned array; strings borrowed or in the fields below */
  const char **envp; /* strings borrowed from the user or parent_env */
  bool envp_owned;   /* envp is its own array (else it is parent_env itself) */
  char **parent_env; /* os_environ_get() copy, when inheriting or extending */
  char *command;     /* the joined command line when a shell is used */
  char *shell_owned; /* from os_shell_argv() */
  const char *shell_argv[7];
  const char *display;   /* what to call the command in messages */
  size_t max_buffer;     /* resolved: never 0 */
  int kill_signal;       /* resolved: never 0 */
  int64_t kill_after_ms; /* 0: no escalation */
  cp_channel_mode channel_mode;
  size_t channel_max;
  char channel_env[2][48]; /* NODE_CHANNEL_FD=..., NODE_CHANNEL_SERIALIZATION_MODE=... */
} cp__prepared;

/* Checks the arguments and options and fills *p. `command` non-NULL means exec: run it through the
 * shell (file and args are then NULL). `extra_env` (NULL-terminated, may be NULL) is added to the
 * child's environment over whatever options.env gives. Returns 0 or CP_EINVAL/CP_ENOMEM with *err
 * filled (err may be NULL); *p is always safe to free with cp__prepared_free(). */
int cp__prepare(cp__prepared *p, const char *file, const char *const *args, const char *command,
                const cp_options *o, const char *const *extra_env, cp_error *err);
void cp__prepared_free(cp__prepared *p);

/* The stdio part of the checks, on its own: callers that create descriptors before cp__prepare()
 * (the sync forms' private loop) run it first, so a closed fd number given in options.stdio cannot
 * be taken by one of ours in between and pass for open. */
int cp__check_stdio(const cp_options *o, cp_error *err);

#endif /* CP_PREPARE_H */
