/* test_backpressure.c - a child writing 256 MiB to a parent that reads slowly (it pauses stdout after
 * every chunk and resumes it from a timer on the next turn): every byte arrives, and the parent's
 * peak resident memory grows by far less than what went through (Linux: VmHWM). */
#include <childproc.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define TOTAL ((uint64_t)256 << 20)

static long peak_rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %ld kB", &v) == 1) break;
  if (f) fclose(f);
  return v;
}

typedef struct slow {
  cp_child *child;
  cp_timer *resume;
  uint64_t got;
  int pauses;
  bool closed;
} slow;

static void on_resume(cp_timer *t, void *ud) {
  (void)t;
  slow *s = ud;
  cp_child_resume(s->child, 1);
}

static void on_out(cp_child *c, const char *d, size_t n, void *ud) {
  (void)d;
  slow *s = ud;
  if (!n) return;
  s->got += n;
  if (cp_child_pause(c, 1) == 0) { /* read slowly: one chunk, then wait a turn */
    s->pauses++;
    cp_timer_start(s->resume, 0, 0, on_resume, s);
  }
}

static void on_close(cp_child *c, int64_t st, int sig, void *ud) {
  (void)c, (void)st, (void)sig;
  ((slow *)ud)->closed = true;
}

static void slow_reader_keeps_memory_bounded(void **state) {
  (void)state;
  long before = peak_rss_kib();
  assert_true(before > 0);
  cp_loop *loop;
  assert_int_equal(cp_loop_new(&loop), 0);
  slow s = {0};
  assert_int_equal(cp_timer_new(loop, &s.resume), 0);
  const char *args[] = {"-c", "head -c 268435456 /dev/zero", NULL};
  cp_child_events ev = {.on_stdout = on_out, .on_close = on_close};
  assert_int_equal(cp_spawn(loop, "sh", args, NULL, &ev, &s, &s.child), 0);
  assert_int_equal(cp_loop_run(loop, CP_RUN_DEFAULT), 0);
  assert_true(s.closed);
  assert_int_equal(s.got, TOTAL);
  assert_true(s.pauses > 1000);
  long after = peak_rss_kib();
  printf("256 MiB through a slow reader: %d pauses, peak RSS %ld -> %ld KiB\n", s.pauses, before, after);
  assert_true(after - before < 16 * 1024); /* nothing is buffered beyond a read */
  cp_timer_free(s.resume);
  cp_child_free(s.child);
  assert_int_equal(cp_loop_free(loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(slow_reader_keeps_memory_bounded)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
