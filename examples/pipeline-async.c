/* pipeline-async - `find . -type f | wc -l` with two spawned children joined by the parent's
 * streams, as in Node: find.stdout.on('data', d => wc.stdin.write(d)); find.on('close', () =>
 * wc.stdin.end()). Back-pressure is honoured: while wc's stdin has more than 1 MiB queued, find's
 * stdout is paused, and resumed once the queue drains. */
#include <childproc.h>

#include <stdio.h>
#include <string.h>

#define HIGH_WATER (1024 * 1024)

typedef struct app {
  cp_child *find, *wc;
  bool find_paused;
  char count[64];
} app;

static void on_wc_written(cp_child *c, int status, void *ud) {
  app *a = ud;
  (void)status;
  if (a->find_paused && cp_child_write_queue_size(c) < HIGH_WATER / 2) {
    a->find_paused = false;
    cp_child_resume(a->find, 1);
  }
}

static void on_find_stdout(cp_child *c, const char *data, size_t len, void *ud) {
  app *a = ud;
  if (len == 0) { /* find's output ended: so does wc's input */
    cp_child_end(a->wc);
    return;
  }
  cp_child_write(a->wc, data, len, on_wc_written, a);
  if (cp_child_write_queue_size(a->wc) > HIGH_WATER) {
    a->find_paused = true;
    cp_child_pause(c, 1);
  }
}

static void on_wc_stdout(cp_child *c, const char *data, size_t len, void *ud) {
  (void)c;
  app *a = ud;
  size_t have = strlen(a->count);
  if (len && have + len < sizeof a->count) memcpy(a->count + have, data, len);
}

static void on_error(cp_child *c, const cp_error *err, void *ud) {
  (void)c, (void)ud;
  fprintf(stderr, "pipeline-async: %s\n", err->message);
}

int main(void) {
#ifdef _WIN32
  const char *find_file = "cmd.exe", *find_args[] = {"/d", "/c", "dir /s /b /a-d .", NULL};
  const char *wc_file = "find.exe", *wc_args[] = {"/c", "/v", "\"\"", NULL};
#else
  const char *find_file = "find", *find_args[] = {".", "-type", "f", NULL};
  const char *wc_file = "wc", *wc_args[] = {"-l", NULL};
#endif
  cp_loop *loop;
  if (cp_loop_new(&loop)) return 1;
  app a = {0};
  cp_child_events fev = {.on_error = on_error, .on_stdout = on_find_stdout};
  cp_child_events wev = {.on_error = on_error, .on_stdout = on_wc_stdout};
  cp_options fopts = {.stdio = {{CP_STDIO_IGNORE, 0}, {CP_STDIO_PIPE, 0}, {CP_STDIO_INHERIT, 0}}};
  if (cp_spawn(loop, wc_file, wc_args, NULL, &wev, &a, &a.wc)) return 1;
  if (cp_spawn(loop, find_file, find_args, &fopts, &fev, &a, &a.find)) return 1;
  cp_loop_run(loop, CP_RUN_DEFAULT);
  printf("files under .: %s", a.count);
  cp_child_free(a.find);
  cp_child_free(a.wc);
  cp_loop_free(loop);
  return a.count[0] ? 0 : 1;
}
