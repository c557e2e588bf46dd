/* cprun.h - what cprun's two halves share: the command line, read into a cprun_config by
 * cprun_args.c, and the run and its report in cprun.c. */
#ifndef CPRUN_H
#define CPRUN_H

#include <childproc.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit statuses of cprun itself, as coreutils' timeout(1) and env(1) use them. */
enum {
  EXIT_TIMED_OUT = 124,
  EXIT_CPRUN_FAILED = 125, /* usage error, or the child could not be started for another reason */
  EXIT_CANNOT_EXECUTE = 126,
  EXIT_NOT_FOUND = 127,
  EXIT_SIGNAL_BASE = 128
};

/* What the command line asks for. Strings point into argv. */
typedef struct cprun_config {
  const char *program;       /* -- PROGRAM [ARG...] */
  const char *const *args;   /* the ARGs, NULL-terminated */
  const char *shell_command; /* --shell COMMAND */
  const char *cwd;           /* --cwd */
  const char **env;          /* --env entries, NULL-terminated */
  size_t env_count;
  bool clear_env;         /* --clear-env */
  int64_t timeout_ms;     /* --timeout; 0 = none */
  int kill_signal;        /* --kill-signal; 0 = the library's default (SIGTERM) */
  size_t max_buffer;      /* --max-buffer; 0 = the library's default (1 MiB) */
  const char *input_path; /* --input; "-" = our stdin */
  bool json;              /* --json */
  int64_t kill_after_ms;  /* --kill-after; 0 = no escalation */
  bool tree;              /* --tree: the child's whole tree is signalled and killed */
  bool detach;            /* --detach: start, print the pid, leave it running */
  char *input;            /* the bytes read from input_path */
  size_t input_len;
} cprun_config;

enum { PARSE_RUN = -1 }; /* cprun_parse_args: go on and run; any other value is the exit status */

/* Fills cfg from argv (see cprun --help). Returns PARSE_RUN, or the exit status after --help,
 * --version or a usage error (already reported on stderr). */
int cprun_parse_args(cprun_config *cfg, int argc, char **argv);

/* Reads all of --input into cfg->input. Returns 0, or EXIT_CPRUN_FAILED after a message. */
int cprun_read_input(cprun_config *cfg);

/* The cp_options the configuration asks for. */
cp_options cprun_options(const cprun_config *cfg);

#endif
