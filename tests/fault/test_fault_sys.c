/* test_fault_sys.c - every system call the library makes can fail, and each failure ends as the API
 * says: the correct result, or a CP_E* error reported where the API reports it (return value,
 * res->error, on_error), within a time limit, with the descriptors and children of the process back
 * where they were.
 *
 * The executable is linked with -Wl,--wrap=<call> for the calls of fault_sys.c's table, so every call
 * of the library's goes through a counter per call. Each scenario runs once unarmed, which counts
 * the calls it makes of each kind; then, for every call c it made k times, runs k more times with
 * call number N of c failing (N = 1..k, capped), with an errno that call can really give (EMFILE for
 * descriptor-making calls, EAGAIN for fork/clone/threads, EPERM for credentials, ...), and once more
 * per N with EINTR for the calls the library retries, where the result must be the correct one.
 * The counters are shared with the child between clone()/fork() and exec, so the child's own steps
 * (dup2, chdir, setsid, setresuid, the guardian's message, ...) fail too.
 *
 * Scenarios: a sync capture with input in another cwd, a PATH search, exec through the shell, a
 * detached child and a single one with kill_on_parent_exit (guardian, spawner thread), set_uid and
 * set_gid, a tree killed at its timeout, a channel round trip, a 512 KiB message queued without a
 * callback, 256 KiB to a child's stdin (part written at once, the rest queued), a pool with its resident-memory check and a drain, stderr to descriptor 1, this process's
 * stdin closed. Each prints "fault sweep (syscalls) NAME: P injection points, H of them hit" (H: the
 * runs in which the armed call was made again; timing can change a count between runs).
 *
 * Also: errnos mapped to codes end to end (a pipe that fails with errno E makes cp_spawn_sync return
 * the code documented for E), and a spawner thread that cannot be created (CP_EAGAIN, then the next
 * spawn works). Built with -DCHILDPROC_TEST_SYSCALL_FAULTS=ON (the ASan and coverage cells). */
#include "cptest.h"
#include "fault_channel.h"
#include "fault_sys.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define RUN_TIME_LIMIT_S 20
#define MAX_N            24 /* calls of one kind failed per scenario (a child resets 64 signals...) */

/* ---- workers (their own processes, unarmed) ------------------------------------------------------- */

/* ---- the sweep ---------------------------------------------------------------------------------- */

static const char *cur_scenario = "";
static const char *cur_call = "";
static long cur_n;
static int cur_errno;

static void on_alarm(int sig) {
  (void)sig;
  char buf[256];
  int n = snprintf(buf, sizeof buf, "FAULT: scenario %s, %s #%ld failing with errno %d did not end within %d s\n",
                   cur_scenario, cur_call, cur_n, cur_errno, RUN_TIME_LIMIT_S);
  if (write(2, buf, (size_t)n) < 0) _exit(3);
  _exit(2);
}

#define CHECK(cond, ...)                                                                                     \
  do {                                                                                                       \
    if (!(cond)) {                                                                                           \
      print_message("%s: %s #%ld (errno %d): ", cur_scenario, cur_call, cur_n, cur_errno);                   \
      print_message(__VA_ARGS__);                                                                            \
      print_message("\n");                                                                                   \
      return false;                                                                                          \
    }                                                                                                        \
  } while (0)

/* Whether the run must end exactly as the unarmed one did (an EINTR the library retries). */
static bool must_succeed;
/* The scenario has a guardian (kill_on_parent_exit for a tree): a forked process of ours that shares
 * the counters, so its own calls fail too. A guardian that cannot read its socket takes it as our
 * end and kills the child (fail-safe): the run then ends with the child killed by SIGKILL. */
static bool has_guardian;

/* A code the library documents: one of the CP_E* values (CP_EUNKNOWN included: an OS error with no
 * better mapping). */
static bool is_code(int rc) { return rc <= CP_EINVAL && rc >= CP_EPROTO; }

/* A sync form's outcome: the correct result, or the code returned also in res->error with a message. */
static bool check_sync(int rc, const cp_result *res, const char *want_out, int want_rc) {
  CHECK(res->out.data && res->err.data, "res->out/err.data NULL (rc %s)", cp_err_name(rc));
  if (rc == want_rc && (want_rc != 0 || (res->status == 0 && strcmp(res->out.data, want_out) == 0))) {
    CHECK(res->error.code == rc, "rc %s, res->error.code %s", cp_err_name(rc), cp_err_name(res->error.code));
    return true;
  }
  CHECK(!must_succeed, "rc %s (%s), status %lld, stdout \"%s\"", cp_err_name(rc), res->error.message,
        (long long)res->status, res->out.data);
  if (rc == 0 && has_guardian && res->signal == CP_SIGKILL && strcmp(cur_call, "read") == 0) return true;
  CHECK(rc != 0, "rc 0 but status %lld, signal %d, stdout \"%s\"", (long long)res->status, res->signal,
        res->out.data);
  CHECK(is_code(rc), "rc %d is no CP_E* code", rc);
  CHECK(res->error.code == rc, "rc %s, res->error.code %s", cp_err_name(rc), cp_err_name(res->error.code));
  CHECK(res->error.message[0] != '\0', "empty message");
  return true;
}

typedef bool (*scenario_fn)(void);

/* The errno a call fails with in the sweep: one it can really give. */
static int hard_errno(const char *call) {
  static const struct {
    const char *call;
    int e;
  } table[] = {
      {"pipe2", EMFILE},
      {"pipe", EMFILE},
      {"socketpair", EMFILE},
      {"fcntl", EMFILE},
      {"dup2", EBADF},
      {"chdir", EACCES},
      {"setsid", EPERM},
      {"setpgid", EPERM},
      {"send", ENOBUFS},
      {"prctl", EINVAL},
      {"clone", EAGAIN},
      {"fork", EAGAIN},
      {"epoll_create1", EMFILE},
      {"epoll_ctl", ENOMEM},
      {"epoll_pwait", ENOMEM},
      {"poll", ENOMEM},
      {"ppoll", ENOMEM},
      {"read", EIO},
      {"write", EIO},
      {"writev", EIO},
      {"sendmsg", ENOBUFS},
      {"kill", EPERM},
      {"killpg", EPERM},
      {"sigaction", EINVAL},
      {"pthread_create", EAGAIN},
      {"sigtimedwait", EAGAIN},
      {"open", EMFILE},
      {"readlink", EACCES},
      {"stat", EACCES},
      {"faccessat", EACCES},
      {"access", EACCES},
      {"ioctl", ENOTTY},
      {"posix_spawn", EAGAIN},
      {"getrlimit", EPERM},
      {"syscall:setgroups", EPERM},
      {"syscall:setresgid", EPERM},
      {"syscall:setresuid", EAGAIN},
      {"syscall:pidfd_open", EMFILE},
      {"syscall:pidfd_send_signal", EPERM},
      {"syscall:close_range", ENOSYS},
      {"setgroups", EPERM},
      {"setgid", EPERM},
      {"setuid", EAGAIN},
      {"posix_spawnattr_init", ENOMEM},
      {"posix_spawn_file_actions_init", ENOMEM},
      {"posix_spawnattr_setflags", EINVAL},
      {"posix_spawn_file_actions_adddup2", ENOMEM},
      {"posix_spawn_file_actions_addclosefrom_np", ENOMEM},
      {"posix_spawn_file_actions_addchdir_np", ENOMEM},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (strcmp(table[i].call, call) == 0) return table[i].e;
  return 0;
}

/* The calls the library retries on EINTR: failing one with it must not change the result. (waitpid
 * and waitid fail with nothing else for a child of ours: ECHILD would mean another waitpid() took
 * it, i.e. a different world; send() is retried where it can block, in the parent's streams, which
 * write() covers the same way.) */
static bool retried_on_eintr(const char *call) {
  static const char *const calls[] = {"read", "write", "writev", "waitid", "waitpid", "epoll_pwait", "poll", "ppoll"};
  for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
    if (strcmp(calls[i], call) == 0) return true;
  return false;
}

/* One run with call id number n failing with e; fails the test on a wrong outcome or a leak. */
static void run_one(const char *name, scenario_fn fn, int id, long n, int e, int fds0) {
  cur_call = fsys_name(id);
  cur_n = n;
  cur_errno = e;
  must_succeed = e == EINTR;
  alarm(RUN_TIME_LIMIT_S);
  fsys_arm(id, n, e);
  bool ok = fn();
  fsys_disarm();
  alarm(0);
  if (!ok) fail_msg("scenario %s: wrong outcome with %s #%ld failing (errno %d)", name, cur_call, n, e);
  int fds = cptest_open_fds();
  if (fds != fds0)
    fail_msg("scenario %s, %s #%ld failing (errno %d): %d descriptors open, %d before", name, cur_call, n, e, fds,
             fds0);
  if (!cptest_no_children()) {
    if (getenv("FSYS_DEBUG")) { /* which child */
      char cmd[80];
      snprintf(cmd, sizeof cmd, "ps -o pid,ppid,stat,args --ppid %d", (int)getpid());
      if (system(cmd) != 0) print_message("(ps failed)\n");
    }
    fail_msg("scenario %s, %s #%ld failing (errno %d): a child is left", name, cur_call, n, e);
  }
}

/* Sweeps a scenario; prints how many injection points it covered. */
static void sweep(const char *name, scenario_fn fn) {
  cur_scenario = name;
  cur_call = "(none)";
  cur_n = 0;
  cur_errno = 0;
  must_succeed = true;
  int fds0 = cptest_open_fds();
  long calls[64];
  int ncalls = fsys_count();
  assert_true(ncalls <= 64);
  alarm(RUN_TIME_LIMIT_S);
  fsys_reset();
  bool clean = fn(); /* unarmed: the scenario itself must pass, and counts the calls it makes */
  fsys_disarm();
  alarm(0);
  assert_true(clean);
  for (int id = 0; id < ncalls; id++) calls[id] = fsys_calls(id);
  long points = 0, fired = 0;
  for (int id = 0; id < ncalls; id++) {
    const char *call = fsys_name(id);
    int e = hard_errno(call);
    long k = calls[id] < MAX_N ? calls[id] : MAX_N;
    for (long n = 1; n <= k; n++) {
      if (e) {
        run_one(name, fn, id, n, e, fds0);
        points++;
        fired += fsys_fired();
      }
      if (retried_on_eintr(call)) {
        run_one(name, fn, id, n, EINTR, fds0);
        points++;
        fired += fsys_fired();
      }
    }
  }
  print_message("fault sweep (syscalls) %s: %ld injection points, %ld of them hit\n", name, points, fired);
}

/* ---- scenarios ------------------------------------------------------------------------------------ */

static const char input[] = "fault-injected input";

/* Capture with input, in another directory. */
static bool sc_sync_cat_cwd(void) {
  const char *args[] = {"cat", NULL};
  cp_options o = {.input = input, .input_len = sizeof input - 1, .cwd = cptest_tmpdir};
  cp_result res;
  int rc = cp_spawn_sync(cptest_helper(), args, &o, &res);
  bool ok = check_sync(rc, &res, input, 0);
  cp_result_free(&res);
  return ok;
}

/* The program found on PATH. */
static char path_env[4200];
static bool sc_sync_path_search(void) {
  const char *args[] = {"out", "5", NULL};
  const char *env[] = {path_env, NULL};
  cp_options o = {.env = env, .env_mode = CP_ENV_EXTEND};
  cp_result res;
  int rc = cp_spawn_sync("cp-testchild", args, &o, &res);
  bool ok = check_sync(rc, &res, "abcde", 0);
  cp_result_free(&res);
  return ok;
}

static bool sc_exec_sync(void) {
  cp_result res;
  int rc = cp_exec_sync("echo fault-hi", NULL, &res);
  bool ok = check_sync(rc, &res, "fault-hi\n", 0);
  cp_result_free(&res);
  return ok;
}

/* A detached child that dies with this process: its own session, the guardian, the spawner thread. */
static bool sc_detached_kill_on_parent_exit(void) {
  const char *args[] = {"out", "5", NULL};
  cp_options o = {.detached = true, .kill_on_parent_exit = true};
  cp_result res;
  has_guardian = true;
  int rc = cp_spawn_sync(cptest_helper(), args, &o, &res);
  bool ok = check_sync(rc, &res, "abcde", 0);
  has_guardian = false;
  cp_result_free(&res);
  return ok;
}

/* A single child that dies with this process (Linux: PR_SET_PDEATHSIG from the spawner thread; the
 * portable build: a guardian). */
static bool sc_kill_on_parent_exit(void) {
  const char *args[] = {"out", "5", NULL};
  cp_options o = {.kill_on_parent_exit = true};
  cp_result res;
#ifdef CHILDPROC_TEST_PORTABLE
  has_guardian = true;
#endif
  int rc = cp_spawn_sync(cptest_helper(), args, &o, &res);
  bool ok = check_sync(rc, &res, "abcde", 0);
  has_guardian = false;
  cp_result_free(&res);
  return ok;
}

/* As a given user and group (this one: the calls are made, nothing changes), searched on PATH. */
static bool sc_set_ids(void) {
  const char *args[] = {"out", "5", NULL};
  const char *env[] = {path_env, NULL};
  cp_options o = {.env = env,
                  .env_mode = CP_ENV_EXTEND,
                  .set_uid = true,
                  .set_gid = true,
                  .uid = (uint32_t)getuid(),
                  .gid = (uint32_t)getgid()};
  cp_result res;
  int rc = cp_spawn_sync("cp-testchild", args, &o, &res);
  bool ok = check_sync(rc, &res, "abcde", 0);
  cp_result_free(&res);
  return ok;
}

/* A tree killed at its timeout, escalated to SIGKILL. */
static bool sc_timeout_tree(void) {
  const char *args[] = {"ignore-term", "10000", NULL};
  cp_options o = {.timeout_ms = 20, .kill_tree = true, .kill_after_ms = 20};
  cp_result res;
  int rc = cp_spawn_sync(cptest_helper(), args, &o, &res);
  bool ok = check_sync(rc, &res, "", CP_ETIMEDOUT);
  if (ok && rc == CP_ETIMEDOUT && !res.timed_out) {
    print_message("%s: CP_ETIMEDOUT without timed_out\n", cur_scenario);
    ok = false;
  }
  cp_result_free(&res);
  return ok;
}

/* stderr to the parent's descriptor 1 (2>&1 style): the child moves a source below 3 out of the way
 * before its dup2s. */
static bool sc_stderr_to_fd1(void) {
  const char *args[] = {"out", "5", NULL};
  cp_options o = {.stdio = {{CP_STDIO_PIPE, 0}, {CP_STDIO_PIPE, 0}, {CP_STDIO_FD, 1}}};
  cp_result res;
  int rc = cp_spawn_sync(cptest_helper(), args, &o, &res);
  bool ok = check_sync(rc, &res, "abcde", 0);
  cp_result_free(&res);
  return ok;
}

/* This process's stdin closed: the library fills the slot with the null device before it makes a
 * descriptor (when that open fails, its own descriptors that land on 0 are moved above stdio). The
 * slot is closed again for every run, and given back after it. */
int __real_dup2(int a, int b);
static bool sc_closed_stdin(void) {
  static const char in[] = "closed-stdin input";
  const char *args[] = {"cat", NULL};
  cp_options o = {.input = in, .input_len = sizeof in - 1};
  int saved = dup(0);
  if (saved < 0) return false;
  close(0);
  cp_result res;
  int rc = cp_spawn_sync(cptest_helper(), args, &o, &res);
  fsys_disarm();
  bool ok = check_sync(rc, &res, in, 0);
  cp_result_free(&res);
  if (__real_dup2(saved, 0) != 0) ok = false;
  close(saved);
  return ok;
}

/* An async child with a channel: one message there and back (fault_channel.c). */
/* The echo scenario (fault_channel.c) with msg, in the channel mode of o. */
static bool run_echo(const char *msg, size_t len, const cp_options *o) {
  cp_loop *loop;
  int rc = cp_loop_new(&loop);
  if (rc) {
    CHECK(!must_succeed && is_code(rc), "cp_loop_new: %s", cp_err_name(rc));
    return true;
  }
  fault_echo s = {.msg = msg, .len = len};
  rc = cp_fork_worker(loop, "echo", NULL, o, &fault_echo_events, &s, &s.c);
  int lr = cp_loop_run(loop, CP_RUN_DEFAULT);
  /* A failing wait of the loop's own is its return value; the run is then finished by a second one. */
  if (lr) {
    CHECK(!must_succeed && is_code(lr), "cp_loop_run: %s", cp_err_name(lr));
    lr = cp_loop_run(loop, CP_RUN_DEFAULT);
  }
  if (s.c) cp_child_free(s.c);
  CHECK(lr == 0, "cp_loop_run: %s", cp_err_name(lr));
  int fr = cp_loop_free(loop);
  CHECK(fr == 0, "cp_loop_free: %s", cp_err_name(fr));
  if (rc) {
    CHECK(!must_succeed && is_code(rc), "cp_fork_worker: %s", cp_err_name(rc));
    CHECK(s.c == NULL, "a child despite the error");
    return true;
  }
  CHECK(s.closed, "no on_close");
  CHECK(!s.no_channel, "on_spawn without a channel (and no on_error)");
  if (s.echoed && !s.error) return true;
  CHECK(!must_succeed, "echo %d, error %s", s.echoed, cp_err_name(s.error));
  CHECK(s.error, "neither the echo nor an error");
  CHECK(is_code(s.error), "error %d", s.error);
  return true;
}

static bool sc_channel_round_trip(void) { return run_echo("{\"ping\":1}", 10, NULL); }

/* A pool (as many workers as CPUs, resident memory checked after each task), two tasks, a drain.
 * Every task ends once, with the reply or an error code. */
#define POOL_TASKS 2
static int pool_calls[POOL_TASKS], pool_code[POOL_TASKS];
static char pool_result[POOL_TASKS][16];
static bool pool_done;

static void pool_on_reply(const cp_reply *r, void *ud) {
  int i = (int)(intptr_t)ud;
  pool_calls[i]++;
  pool_code[i] = r->code;
  snprintf(pool_result[i], sizeof pool_result[i], "%.*s", r->result ? (int)r->result_len : 0,
           r->result ? r->result : "");
}

static void pool_on_done(cp_pool *p, void *ud) {
  (void)p, (void)ud;
  pool_done = true;
}

static bool sc_pool(void) {
  memset(pool_calls, 0, sizeof pool_calls);
  pool_done = false;
  cp_loop *loop;
  int rc = cp_loop_new(&loop);
  if (rc) {
    CHECK(!must_succeed && is_code(rc), "cp_loop_new: %s", cp_err_name(rc));
    return true;
  }
  cp_pool_options o = {.worker_name = "serve",
                       .max_worker_rss = (uint64_t)1 << 40,
                       .restart_delay_ms = 1,
                       .restart_delay_max_ms = 2,
                       .max_start_failures = 2};
  cp_pool *p;
  rc = cp_pool_new(loop, &o, &p);
  if (rc) {
    CHECK(!must_succeed && is_code(rc), "cp_pool_new: %s", cp_err_name(rc));
    CHECK(cp_loop_run(loop, CP_RUN_DEFAULT) == 0, "cp_loop_run");
    CHECK(cp_loop_free(loop) == 0, "cp_loop_free");
    return true;
  }
  bool accepted[POOL_TASKS];
  for (int i = 0; i < POOL_TASKS; i++) {
    rc = cp_pool_submit(p, "{\"op\":\"ping\"}", 13, pool_on_reply, (void *)(intptr_t)i);
    CHECK(rc == 0 || (!must_succeed && is_code(rc)), "cp_pool_submit: %s", cp_err_name(rc));
    accepted[i] = rc == 0;
  }
  CHECK(cp_pool_shutdown(p, CP_POOL_DRAIN, pool_on_done, NULL) == 0, "cp_pool_shutdown");
  int lr = cp_loop_run(loop, CP_RUN_DEFAULT);
  if (lr) { /* the poller failed: the loop's own error; the run is finished by a second one */
    CHECK(!must_succeed && is_code(lr), "cp_loop_run: %s", cp_err_name(lr));
    lr = cp_loop_run(loop, CP_RUN_DEFAULT);
  }
  CHECK(lr == 0, "cp_loop_run: %s", cp_err_name(lr));
  CHECK(pool_done, "the drain's done callback did not run");
  cp_pool_free(p);
  CHECK(cp_loop_free(loop) == 0, "cp_loop_free");
  for (int i = 0; i < POOL_TASKS; i++) {
    CHECK(pool_calls[i] == (accepted[i] ? 1 : 0), "task %d: %d callbacks", i, pool_calls[i]);
    if (!accepted[i]) continue;
    if (pool_code[i] == CP_OK) {
      CHECK(strcmp(pool_result[i], "\"pong\"") == 0, "task %d result %s", i, pool_result[i]);
    } else {
      CHECK(!must_succeed, "task %d failed with %s", i, cp_err_name(pool_code[i]));
      CHECK(is_code(pool_code[i]), "task %d code %d", i, pool_code[i]);
    }
  }
  return true;
}

/* A binary channel carrying 512 KiB there and back, sent without a callback: more than the socket
 * takes at once, so the rest is queued and written by the loop (where a failed write is reported by
 * on_error, there being no callback). */
#define BIG_LEN (512 * 1024)
static char big_msg[BIG_LEN];

static bool sc_channel_large(void) {
  cp_options o = {.channel = CP_CHANNEL_BINARY};
  return run_echo(big_msg, BIG_LEN, &o);
}

/* 256 KiB to a child's stdin, more than a pipe takes at once, with a callback: the write goes out in
 * part during the call and the rest is queued. A write refused with an error return must have put
 * nothing in the pipe (the caller cannot know what went); one accepted reports through its callback,
 * and a success there means every byte reached the child (cat echoes them). */
#define STDIN_LEN (256 * 1024)
static char stdin_msg[STDIN_LEN];

typedef struct stdin_state {
  fault_echo rt; /* first: fault_echo_on_error and fault_echo_on_close take a stdin_state too */
  size_t out;
  int write_status, write_calls;
} stdin_state;

static void si_on_written(cp_child *c, int status, void *ud) {
  (void)c;
  stdin_state *s = ud;
  s->write_status = status;
  s->write_calls++;
}

static void si_on_stdout(cp_child *c, const char *d, size_t n, void *ud) {
  (void)c, (void)d;
  ((stdin_state *)ud)->out += n;
}

static bool sc_stdin_large(void) {
  cp_loop *loop;
  int rc = cp_loop_new(&loop);
  if (rc) {
    CHECK(!must_succeed && is_code(rc), "cp_loop_new: %s", cp_err_name(rc));
    return true;
  }
  stdin_state s = {0};
  cp_child_events ev = {.on_stdout = si_on_stdout, .on_error = fault_echo_on_error, .on_close = fault_echo_on_close};
  const char *args[] = {"cat", NULL};
  cp_child *c = NULL;
  rc = cp_spawn(loop, cptest_helper(), args, NULL, &ev, &s, &c);
  int wrc = rc ? 0 : cp_child_write(c, stdin_msg, STDIN_LEN, si_on_written, &s);
  if (c) cp_child_end(c);
  int lr = cp_loop_run(loop, CP_RUN_DEFAULT);
  if (lr) {
    CHECK(!must_succeed && is_code(lr), "cp_loop_run: %s", cp_err_name(lr));
    lr = cp_loop_run(loop, CP_RUN_DEFAULT);
  }
  if (c) cp_child_free(c);
  CHECK(lr == 0, "cp_loop_run: %s", cp_err_name(lr));
  CHECK(cp_loop_free(loop) == 0, "cp_loop_free");
  if (rc) {
    CHECK(!must_succeed && is_code(rc), "cp_spawn: %s", cp_err_name(rc));
    return true;
  }
  CHECK(s.rt.closed, "no on_close");
  if (wrc) {
    CHECK(!must_succeed && is_code(wrc), "cp_child_write: %s", cp_err_name(wrc));
    CHECK(s.write_calls == 0, "cp_child_write returned %s and its callback ran", cp_err_name(wrc));
    CHECK(s.out == 0, "cp_child_write returned %s but %zu bytes reached the child", cp_err_name(wrc), s.out);
    return true;
  }
  CHECK(s.write_calls == 1, "write callback ran %d times", s.write_calls);
  if (s.write_status == 0 && s.out == STDIN_LEN && !s.rt.error) return true;
  CHECK(!must_succeed, "write %s, %zu of %d bytes back, error %s", cp_err_name(s.write_status), s.out, STDIN_LEN,
        cp_err_name(s.rt.error));
  CHECK(s.write_status != 0 || s.rt.error, "write succeeded, %zu of %d bytes back, no error", s.out, STDIN_LEN);
  CHECK(s.write_status == 0 || is_code(s.write_status), "write status %d", s.write_status);
  return true;
}

/* ---- tests ---------------------------------------------------------------------------------------- */

static void fault_sys_sync_capture_cwd(void **state) {
  (void)state;
  sweep("sync-cat-cwd", sc_sync_cat_cwd);
}

static void fault_sys_sync_path_search(void **state) {
  (void)state;
  sweep("sync-path-search", sc_sync_path_search);
}

static void fault_sys_exec_sync(void **state) {
  (void)state;
  sweep("exec-sync", sc_exec_sync);
}

static void fault_sys_detached_kill_on_parent_exit(void **state) {
  (void)state;
  sweep("detached-kill-on-parent-exit", sc_detached_kill_on_parent_exit);
}

static void fault_sys_kill_on_parent_exit(void **state) {
  (void)state;
  sweep("kill-on-parent-exit", sc_kill_on_parent_exit);
}

static void fault_sys_set_ids(void **state) {
  (void)state;
  if (geteuid() != 0) CPTEST_SKIP("set_uid/set_gid to one's own ids makes the calls only as root here");
  sweep("set-uid-gid", sc_set_ids);
}

static void fault_sys_timeout_tree(void **state) {
  (void)state;
  sweep("timeout-tree", sc_timeout_tree);
}

static void fault_sys_channel_round_trip(void **state) {
  (void)state;
  sweep("channel-round-trip", sc_channel_round_trip);
}

static void fault_sys_channel_large(void **state) {
  (void)state;
  memset(big_msg, 'b', sizeof big_msg);
  sweep("channel-512k-no-callback", sc_channel_large);
}

static void fault_sys_stdin_large(void **state) {
  (void)state;
  memset(stdin_msg, 's', sizeof stdin_msg);
  sweep("stdin-256k-partial", sc_stdin_large);
}

static void fault_sys_pool(void **state) {
  (void)state;
  sweep("pool-rss-drain", sc_pool);
}

static void fault_sys_stderr_to_fd1(void **state) {
  (void)state;
  sweep("stderr-to-fd1", sc_stderr_to_fd1);
}

static void fault_sys_closed_stdin(void **state) {
  (void)state;
  sweep("closed-stdin", sc_closed_stdin);
}

/* kill_on_parent_exit starts its children from a library thread (Linux): when that thread cannot be
 * created the spawn fails with CP_EAGAIN, and the next spawn tries again (nothing is remembered). Run
 * in a fork of this process, which starts without the thread. */
static void fault_sys_spawner_thread_not_created(void **state) {
  (void)state;
#if defined(CHILDPROC_TEST_PORTABLE)
  CPTEST_SKIP("Linux path only: the portable build has no spawner thread");
#else
  int id = fsys_id("pthread_create");
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    const char *args[] = {"out", "5", NULL};
    cp_options o = {.kill_on_parent_exit = true};
    cp_result res;
    fsys_arm(id, 1, EAGAIN);
    int rc = cp_spawn_sync(cptest_helper(), args, &o, &res);
    fsys_disarm();
    int bad = 0;
    if (!fsys_fired() || rc != CP_EAGAIN || res.error.code != CP_EAGAIN) bad |= 1;
    cp_result_free(&res);
    rc = cp_spawn_sync(cptest_helper(), args, &o, &res);
    if (rc != 0 || res.status != 0 || strcmp(res.out.data, "abcde") != 0) bad |= 2;
    cp_result_free(&res);
    cptest_exit(bad);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  assert_true(WIFEXITED(st));
  if (WEXITSTATUS(st) & 1) fail_msg("the spawn with no spawner thread did not fail with CP_EAGAIN");
  if (WEXITSTATUS(st) & 2) fail_msg("the spawn after it did not work");
  assert_int_equal(WEXITSTATUS(st), 0);
#endif
}

/* End to end, errno to code: the stdio pipe failing with E makes the sync call return the code
 * documented for E, in res->error too, with syscall "pipe2"/"pipe". */
static void fault_sys_errno_to_code(void **state) {
  (void)state;
  static const struct {
    int e, code;
  } map[] = {
      {EINVAL, CP_EINVAL},   {ENOENT, CP_ENOENT},           {EACCES, CP_EACCES},     {ENOTDIR, CP_ENOTDIR},
      {ENOEXEC, CP_ENOEXEC}, {ENOMEM, CP_ENOMEM},           {E2BIG, CP_E2BIG},       {EMFILE, CP_EMFILE},
      {ENFILE, CP_EMFILE},   {EPERM, CP_EPERM},             {ESRCH, CP_ESRCH},       {ETIMEDOUT, CP_ETIMEDOUT},
      {ENOBUFS, CP_ENOBUFS}, {EPIPE, CP_EPIPE},             {EAGAIN, CP_EAGAIN},     {ENOSYS, CP_ENOTSUP},
      {ENOTSUP, CP_ENOTSUP}, {EIO, CP_EIO},                 {ENAMETOOLONG, CP_ENAMETOOLONG},
      {ELOOP, CP_ELOOP},     {EBADF, CP_EBADF},             {ECANCELED, CP_ECANCELED},
      {EISDIR, CP_EACCES},   {ETXTBSY, CP_EACCES},          {EDOM, CP_EUNKNOWN},
  };
  const char *args[] = {"exit", "0", NULL};
  int fds0 = cptest_open_fds();
  /* pipe2() where the platform has it, else pipe() (the portable build may use either). */
  int id = fsys_id("pipe2");
  assert_true(id >= 0);
  fsys_reset();
  cp_result res0;
  cptest_assert_rc(cp_spawn_sync(cptest_helper(), args, NULL, &res0), &res0, CP_OK);
  cp_result_free(&res0);
  if (fsys_calls(id) == 0) id = fsys_id("pipe");
  assert_true(fsys_calls(id) > 0);
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
    cp_result res;
    fsys_arm(id, 1, map[i].e);
    int rc = cp_spawn_sync(cptest_helper(), args, NULL, &res);
    fsys_disarm();
    assert_true(fsys_fired());
    if (rc != map[i].code || res.error.code != map[i].code)
      fail_msg("errno %d: rc %s, res->error %s, want %s", map[i].e, cp_err_name(rc), cp_err_name(res.error.code),
               cp_err_name(map[i].code));
    assert_non_null(res.error.syscall);
    assert_non_null(strstr(res.error.syscall, "pipe"));
    assert_int_equal(res.pid, 0);
    cp_result_free(&res);
  }
  assert_int_equal(cptest_open_fds(), fds0);
  assert_true(cptest_no_children());
}

int main(int argc, char **argv) {
  int status;
  if (cp_worker_main(argc, argv, fault_workers, 2, &status)) return status;
  signal(SIGALRM, on_alarm);
  cptest_cloexec_inherited_fds();
  const char *old_path = getenv("PATH");
  snprintf(path_env, sizeof path_env, "PATH=%s:%s", cptest_bin_dir(), old_path ? old_path : "/usr/bin:/bin");
  if (getenv("CPTEST_FILTER")) cmocka_set_test_filter(getenv("CPTEST_FILTER"));
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(fault_sys_errno_to_code),
      cmocka_unit_test(fault_sys_sync_capture_cwd),
      cmocka_unit_test(fault_sys_sync_path_search),
      cmocka_unit_test(fault_sys_exec_sync),
      cmocka_unit_test(fault_sys_detached_kill_on_parent_exit),
      cmocka_unit_test(fault_sys_kill_on_parent_exit),
      cmocka_unit_test(fault_sys_set_ids),
      cmocka_unit_test(fault_sys_timeout_tree),
      cmocka_unit_test(fault_sys_channel_round_trip),
      cmocka_unit_test(fault_sys_channel_large),
      cmocka_unit_test(fault_sys_stdin_large),
      cmocka_unit_test(fault_sys_pool),
      cmocka_unit_test(fault_sys_stderr_to_fd1),
      cmocka_unit_test(fault_sys_closed_stdin),
      cmocka_unit_test(fault_sys_spawner_thread_not_created),
  };
  return cmocka_run_group_tests(tests, cptest_tmpdir_setup, cptest_tmpdir_teardown);
}
