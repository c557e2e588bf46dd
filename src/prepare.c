/* prepare.c - checks the user's arguments and options once and turns them into an os_spawn_req:
 * Node's defaults, the shell command line, the child's environment and its PATH. */
#include "prepare.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cp_options default_options;

static size_t count_strings(const char *const *v) {
  size_t n = 0;
  if (v)
    while (v[n]) n++;
  return n;
}

int cp__check_stdio(const cp_options *o, cp_error *err) {
  static const char *const names[3] = {"stdio[0]", "stdio[1]", "stdio[2]"};
  for (int i = 0; i < 3; i++) {
    cp_stdio_kind k = o->stdio[i].kind;
    if (k != CP_STDIO_PIPE && k != CP_STDIO_INHERIT && k != CP_STDIO_IGNORE && k != CP_STDIO_FD &&
        k != CP_STDIO_CHANNEL)
      return cp__error_setf(err, CP_EINVAL, 0, "spawn", NULL,
                            "spawn EINVAL: options.%s.kind %d is not a cp_stdio_kind", names[i], (int)k);
    if (k == CP_STDIO_FD && (o->stdio[i].fd == CP_INVALID_HANDLE || !os_handle_valid(o->stdio[i].fd)))
      return cp__error_setf(err, CP_EBADF, 0, "spawn", NULL,
                            "spawn EBADF: options.%s.fd is not an open descriptor", names[i]);
  }
  return 0;
}

static int check_env_entry(const char *e, cp_error *err) {
  const char *eq = strchr(e, '=');
  if (!eq || eq == e)
    return cp__error_setf(err, CP_EINVAL, 0, "spawn", NULL,
                          "spawn EINVAL: options.env entry \"%.200s\" is not NAME=VALUE", e);
  return 0;
}

/* An index of the environment being built, by variable name: open addressing over positions in
 * envp, so that merging n entries costs O(n), not O(n^2) (100,000 --env entries take milliseconds).
 * The hash folds ASCII letters and skips other bytes, so names os_env_name_eq() calls equal (exact
 * on POSIX, case-insensitive on Windows) hash alike. */
#define ENV_EMPTY ((size_t)-1)

typedef struct env_index {
  const char **envp;
  size_t *slots, mask;
} env_index;

static size_t env_name_len(const char *e) {
  const char *eq = strchr(e, '=');
  return eq ? (size_t)(eq - e) : strlen(e);
}

static size_t env_name_hash(const char *e, size_t len) {
  size_t h = 14695981039346656037u & SIZE_MAX;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)e[i];
    if (c >= 0x80) continue;
    if (c >= 'a' && c <= 'z') c = (unsigned char)(c - 32);
    h = (h ^ c) * (1099511628211u & SIZE_MAX);
  }
  return h ^ (h >> 29);
}

static int env_index_init(env_index *ix, const char **envp, size_t n) {
  size_t cap = 16;
  while (cap < 2 * n) cap *= 2;
  ix->envp = envp;
  ix->mask = cap - 1;
  ix->slots = malloc(cap * sizeof *ix->slots);
  if (!ix->slots) return CP_ENOMEM;
  for (size_t i = 0; i < cap; i++) ix->slots[i] = ENV_EMPTY;
  return 0;
}

/* The slot of e's name: holding the envp position of that name, or ENV_EMPTY (fill it in). */
static size_t *env_index_find(env_index *ix, const char *e) {
  size_t len = env_name_len(e);
  for (size_t i = env_name_hash(e, len) & ix->mask;; i = (i + 1) & ix->mask) {
    size_t j = ix->slots[i];
    if (j == ENV_EMPTY) return &ix->slots[i];
    const char *o = ix->envp[j];
    if (os_env_name_eq(e, len, o, env_name_len(o))) return &ix->slots[i];
  }
}

/* The child's environment: inherited, replaced or extended (later entries override earlier). */
static int build_env(cp__prepared *p, const cp_options *o, const char *const *extra, cp_error *err) {
  size_t nuser = count_strings(o->env), nextra = count_strings(extra);
  for (size_t i = 0; i < nuser; i++)
    if (check_env_entry(o->env[i], err)) return CP_EINVAL;
  if (o->env_mode == CP_ENV_INHERIT && o->env)
    return cp__error_setf(err, CP_EINVAL, 0, "spawn", NULL,
                          "spawn EINVAL: options.env is set but options.env_mode is CP_ENV_INHERIT");
  if (o->env_mode == CP_ENV_INHERIT && !nextra) {
    int rc = os_environ_get(&p->parent_env);
    if (rc) return cp__error_set(err, rc, 0, "spawn", NULL);
    p->envp = (const char **)p->parent_env; /* freed as parent_env */
    p->req.env_inherited = true;
    goto find_path;
  }
  size_t nparent = 0;
  if (o->env_mode != CP_ENV_REPLACE) {
    int rc = os_environ_get(&p->parent_env);
    if (rc) return cp__error_set(err, rc, 0, "spawn", NULL);
    nparent = count_strings((const char *const *)p->parent_env);
  }
  p->envp = calloc(nparent + nuser + nextra + 1, sizeof *p->envp);
  if (!p->envp) return cp__error_set(err, CP_ENOMEM, 0, "spawn", NULL);
  p->envp_owned = true;
  env_index ix;
  if (env_index_init(&ix, p->envp, nparent + nuser + nextra))
    return cp__error_set(err, CP_ENOMEM, 0, "spawn", NULL);
  size_t n = 0;
  for (size_t i = 0; i < nparent; i++) {
    p->envp[n] = p->parent_env[i];
    size_t *slot = env_index_find(&ix, p->envp[n]);
    if (*slot == ENV_EMPTY) *slot = n; /* a duplicate in the parent's list stays; the first is found */
    n++;
  }
  for (size_t i = 0; i < nuser + nextra; i++) {
    const char *e = i < nuser ? o->env[i] : extra[i - nuser];
    size_t *slot = env_index_find(&ix, e);
    if (*slot == ENV_EMPTY) *slot = n++;
    p->envp[*slot] = e;
  }
  p->envp[n] = NULL;
  free(ix.slots);
find_path:
  for (size_t j = 0; p->envp[j]; j++) {
    const char *eq = strchr(p->envp[j], '=');
    if (eq && os_env_name_eq("PATH", 4, p->envp[j], (size_t)(eq - p->envp[j]))) p->req.path_env = eq + 1;
  }
  return 0;
}

/* Node joins file and args with spaces when a shell is asked for; no quoting is added. */
static char *join_command(const char *file, const char *const *args) {
  size_t len = strlen(file) + 1, n = count_strings(args);
  for (size_t i = 0; i < n; i++) len += strlen(args[i]) + 1;
  char *s = malloc(len);
  if (!s) return NULL;
  char *w = s;
  w += strlen(strcpy(w, file));
  for (size_t i = 0; i < n; i++) {
    *w++ = ' ';
    w += strlen(strcpy(w, args[i]));
  }
  *w = '\0';
  return s;
}

/* The channel: its mode, limit, descriptor number and the two variables the child finds it by. */
static int prepare_channel(cp__prepared *p, const cp_options *o, cp_error *err) {
  int slot = -1;
  for (int i = 0; i < 3; i++) {
    if (o->stdio[i].kind != CP_STDIO_CHANNEL) continue;
    if (slot >= 0)
      return cp__error_setf(err, CP_EINVAL, 0, "spawn", NULL,
                            "spawn EINVAL: more than one options.stdio slot is CP_STDIO_CHANNEL");
    slot = i;
  }
  if (o->channel != CP_CHANNEL_NONE && o->channel != CP_CHANNEL_JSON && o->channel != CP_CHANNEL_BINARY)
    return cp__error_setf(err, CP_EINVAL, 0, "spawn", NULL,
                          "spawn EINVAL: options.channel %d is not a cp_channel_mode", (int)o->channel);
  p->channel_mode = o->channel;
  if (slot >= 0 && p->channel_mode == CP_CHANNEL_NONE) p->channel_mode = CP_CHANNEL_JSON;
  p->req.channel_fd = -1;
  if (p->channel_mode == CP_CHANNEL_NONE) return 0;
  int fd = slot >= 0 ? slot : o->channel_fd ? o->channel_fd : 3;
  if (fd < 0 || fd > 255 || (slot >= 0 && o->channel_fd && o->channel_fd != slot))
    return cp__error_setf(err, CP_EINVAL, 0, "spawn", NULL,
                          "spawn EINVAL: options.channel_fd %d is not a usable descriptor number",
                          o->channel_fd);
  if (fd < 3 && slot != fd)
    return cp__error_setf(
        err, CP_EINVAL, 0, "spawn", NULL,
        "spawn EINVAL: options.channel_fd %d needs options.stdio[%d].kind = CP_STDIO_CHANNEL", fd, fd);
  p->req.channel_fd = fd;
  p->channel_max = o->channel_max_message;
  snprintf(p->channel_env[0], sizeof p->channel_env[0], "NODE_CHANNEL_FD=%d", fd);
  snprintf(p->channel_env[1], sizeof p->channel_env[1], "NODE_CHANNEL_SERIALIZATION_MODE=%s",
           p->channel_mode == CP_CHANNEL_JSON ? "json" : "binary");
  return 0;
}

int cp__prepare(cp__prepared *p, const char *file, const char *const *args, const char *command,
                const cp_options *o, const char *const *extra_env, cp_error *err) {
  memset(p, 0, sizeof *p);
  if (!o) o = &default_options;
  if (command) {
    if (!*command)
      return cp__error_setf(err, CP_EINVAL, 0, "spawn", NULL, "spawn EINVAL: the command is empty");
  } else if (!file || !*file) {
    return cp__error_setf(err, CP_EINVAL, 0, "spawn", NULL, "spawn EINVAL: the file to run is %s",
                          file ? "empty" : "NULL");
  }
  if (o->timeout_ms < 0)
    return cp__error_setf(err, CP_EINVAL, 0, "spawn", NULL,
                          "spawn EINVAL: options.timeout_ms is negative (%lld)", (long long)o->timeout_ms);
  if (o->kill_after_ms < 0)
    return cp__error_setf(err, CP_EINVAL, 0, "spawn", NULL,
                          "spawn EINVAL: options.kill_after_ms is negative (%lld)",
                          (long long)o->kill_after_ms);
  if (o->kill_signal < 0 || (o->kill_signal && !os_signal_name(o->kill_signal)))
    return cp__error_setf(err, CP_EINVAL, 0, "spawn", NULL,
                          "spawn EINVAL: options.kill_signal %d is not a signal of this platform",
                          o->kill_signal);
  if (o->env_mode != CP_ENV_INHERIT && o->env_mode != CP_ENV_REPLACE && o->env_mode != CP_ENV_EXTEND)
    return cp__error_setf(err, CP_EINVAL, 0, "spawn", NULL,
                          "spawn EINVAL: options.env_mode %d is not a cp_env_mode", (int)o->env_mode);
  if (o->input_len && !o->input)
    return cp__error_setf(err, CP_EINVAL, 0, "spawn", NULL,
                          "spawn EINVAL: options.input is NULL but options.input_len is %zu", o->input_len);
  if (o->input && o->stdio[0].kind != CP_STDIO_PIPE)
    return cp__error_setf(err, CP_EINVAL, 0, "spawn", NULL,
                          "spawn EINVAL: options.input needs options.stdio[0] to be CP_STDIO_PIPE");
  if (o->cwd && !*o->cwd)
    return cp__error_setf(err, CP_EINVAL, 0, "spawn", NULL, "spawn EINVAL: options.cwd is empty");
  if (o->argv0 && !*o->argv0)
    return cp__error_setf(err, CP_EINVAL, 0, "spawn", NULL, "spawn EINVAL: options.argv0 is empty");
  int rc = cp__check_stdio(o, err);
  if (rc) return rc;
  rc = prepare_channel(p, o, err);
  if (rc) return rc;

  p->max_buffer = o->max_buffer ? o->max_buffer : CP_MAX_BUFFER_DEFAULT;
  p->kill_signal = o->kill_signal ? o->kill_signal : CP_SIGTERM;

  const char *shell = command && !o->shell ? CP_SHELL_DEFAULT : o->shell;
  if (shell) {
    if (command) {
      p->display = command;
    } else {
      p->command = join_command(file, args);
      if (!p->command) return cp__error_set(err, CP_ENOMEM, 0, "spawn", NULL);
      p->display = p->command;
    }
    bool verbatim = false;
    rc = os_shell_argv(shell, p->display, p->shell_argv, &p->shell_owned, &verbatim);
    if (rc) return cp__error_set(err, rc, 0, "spawn", shell);
    size_t n = count_strings(p->shell_argv);
    p->argv = calloc(n + 1, sizeof *p->argv);
    if (!p->argv) return cp__error_set(err, CP_ENOMEM, 0, "spawn", NULL);
    memcpy(p->argv, p->shell_argv, n * sizeof *p->argv);
    p->req.file = p->shell_argv[0];
    p->req.windows_verbatim_arguments = verbatim || o->windows_verbatim_arguments;
  } else {
    size_t n = count_strings(args);
    p->argv = calloc(n + 2, sizeof *p->argv);
    if (!p->argv) return cp__error_set(err, CP_ENOMEM, 0, "spawn", NULL);
    p->argv[0] = file;
    if (n) memcpy(p->argv + 1, args, n * sizeof *p->argv);
    p->req.file = file;
    p->display = file;
    p->req.windows_verbatim_arguments = o->windows_verbatim_arguments;
  }
  if (o->argv0) p->argv[0] = o->argv0;

  const char *env_add[8];
  size_t nadd = 0;
  if (p->req.channel_fd >= 0) {
    env_add[nadd++] = p->channel_env[0];
    env_add[nadd++] = p->channel_env[1];
  }
  for (size_t i = 0; extra_env && extra_env[i] && nadd < 7; i++) env_add[nadd++] = extra_env[i];
  env_add[nadd] = NULL;
  rc = build_env(p, o, env_add, err);
  if (rc) return rc;

  p->req.argv = p->argv;
  p->req.envp = p->envp;
  p->req.cwd = o->cwd;
  memcpy(p->req.stdio, o->stdio, sizeof p->req.stdio);
  for (int i = 0; i < 3; i++) /* the channel's slot: the backend puts the channel over it */
    if (p->req.stdio[i].kind == CP_STDIO_CHANNEL) p->req.stdio[i].kind = CP_STDIO_IGNORE;
  p->req.detached = o->detached;
  p->req.new_group = o->kill_tree || o->detached;
  p->req.kill_on_parent_exit = o->kill_on_parent_exit;
  p->kill_after_ms = o->kill_after_ms;
  p->req.set_uid = o->set_uid;
  p->req.set_gid = o->set_gid;
  p->req.uid = o->uid;
  p->req.gid = o->gid;
  p->req.windows_hide = o->windows_hide;
  return 0;
}

void cp__prepared_free(cp__prepared *p) {
  free(p->argv);
  if (p->envp_owned) free(p->envp);
  if (p->parent_env) os_environ_free(p->parent_env);
  free(p->command);
  free(p->shell_owned);
  memset(p, 0, sizeof *p);
}
