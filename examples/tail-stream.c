/* tail-stream - spawn `tail -f` and stream its lines as they come, until we kill it.
 *
 * A timer appends a line to a log file every 50 ms; `tail -f` picks each one up and the parent
 * prints it from the on_stdout callback. After 5 lines the parent kills tail with SIGTERM, and the
 * exit event reports the signal. (Windows has no tail: there this example explains and exits 0.) */
#include <childproc.h>

#include <stdio.h>
#include <string.h>

#ifndef _WIN32
typedef struct app {
  FILE *log;
  cp_timer *writer;
  cp_child *tail;
  int written, lines;
} app;

static void write_line(cp_timer *t, void *ud) {
  (void)t;
  app *a = ud;
  fprintf(a->log, "log line %d\n", ++a->written);
  fflush(a->log);
}

static void on_stdout(cp_child *c, const char *data, size_t len, void *ud) {
  app *a = ud;
  for (size_t i = 0; i < len; i++)
    if (data[i] == '\n') a->lines++;
  if (len) printf("streamed: %.*s", (int)len, data);
  if (a->lines >= 5 && !cp_child_killed(c)) {
    cp_timer_free(a->writer);
    a->writer = NULL;
    cp_child_kill(c, CP_SIGTERM);
  }
}

static void on_exit_ev(cp_child *c, int64_t status, int sig, void *ud) {
  (void)c, (void)ud;
  printf("tail ended: status %lld, signal %s\n", (long long)status, sig ? cp_signal_name(sig) : "none");
}

#endif

int main(void) {
#ifdef _WIN32
  puts("tail-stream: needs `tail -f`, which Windows does not have");
  return 0;
#else
  const char *path = "tail-stream.log";
  app a = {0};
  a.log = fopen(path, "w");
  if (!a.log) return 1;
  cp_loop *loop;
  if (cp_loop_new(&loop)) return 1;
  const char *args[] = {"-n", "0", "-f", path, NULL};
  cp_child_events ev = {.on_stdout = on_stdout, .on_exit = on_exit_ev};
  if (cp_spawn(loop, "tail", args, NULL, &ev, &a, &a.tail)) return 1;
  cp_timer_new(loop, &a.writer);
  cp_timer_start(a.writer, 100, 50, write_line, &a);
  cp_loop_run(loop, CP_RUN_DEFAULT);
  cp_child_free(a.tail);
  cp_loop_free(loop);
  fclose(a.log);
  remove(path);
  return a.lines >= 5 ? 0 : 1;
#endif
}
