/* cp_bench_table - turns the "RESULT <key> <value>" lines of one bench/run.sh run (all repetitions)
 * into one Markdown table: each figure's childproc median [min-max] over the repetitions, each
 * baseline's median from the same run, the ratio childproc / baseline, and the target where one
 * applies (DESIGN.md §5 and the issues': ratios to a baseline, or an absolute bound).
 *
 *   cp_bench_table RESULTS_FILE
 *
 * Ratios are in the unit of the row: for rates (/s, MiB/s) higher is better for childproc, for
 * times and memory lower is better; the target column says which way each target points. Exits 1
 * if a childproc figure is missing (a benchmark did not run), 0 otherwise; a missing baseline is
 * "n/a" (with the reason the run gave, e.g. libuv not installed). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXKEYS 256
#define MAXVALS 64

typedef struct series {
  char key[96];
  double v[MAXVALS];
  int n;
  char skip[256];
} series;

static series all[MAXKEYS];
static int nall;

static series *find(const char *key, int create) {
  for (int i = 0; i < nall; i++)
    if (strcmp(all[i].key, key) == 0) return &all[i];
  if (!create || nall == MAXKEYS) return NULL;
  snprintf(all[nall].key, sizeof all[nall].key, "%s", key);
  return &all[nall++];
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(series *s) {
  double t[MAXVALS];
  memcpy(t, s->v, sizeof(double) * (size_t)s->n);
  qsort(t, (size_t)s->n, sizeof t[0], cmp_double);
  return s->n % 2 ? t[s->n / 2] : (t[s->n / 2 - 1] + t[s->n / 2]) / 2;
}

static double minv(const series *s) {
  double m = s->v[0];
  for (int i = 1; i < s->n; i++) m = s->v[i] < m ? s->v[i] : m;
  return m;
}

static double maxv(const series *s) {
  double m = s->v[0];
  for (int i = 1; i < s->n; i++) m = s->v[i] > m ? s->v[i] : m;
  return m;
}

/* the key of a series without its ".unit" suffix, for SKIP lines (which name the measurement) */
static const char *skip_reason(const char *key) {
  char base[96];
  snprintf(base, sizeof base, "%s", key);
  char *dot = strrchr(base, '.');
  if (dot) *dot = '\0';
  series *s = find(base, 0);
  return s && s->skip[0] ? s->skip : NULL;
}

enum target { NONE, MIN_RATIO, MAX_RATIO };

typedef struct baseline {
  const char *label;
  const char *key;
  enum target t;
  double goal;
} baseline;

typedef struct row {
  const char *figure;
  const char *key; /* childproc's series */
  const char *unit;
  baseline b[6];
} row;

/* The figures of issue 5 item 3, in DESIGN.md §5 order. */
static const row rows[] = {
    {"spawn+wait /bin/true, 2000 sequential (cp_spawn_sync)",
     "spawn_seq.cp_sync.per_s",
     "spawns/s",
     {{"raw posix_spawn+waitpid", "spawn_seq.posix_spawn.per_s", MIN_RATIO, 0.95},
      {"raw vfork+execve", "spawn_seq.vfork.per_s", NONE, 0},
      {"raw fork+execve", "spawn_seq.fork.per_s", NONE, 0},
      {"libuv uv_spawn", "spawn_seq.uv.per_s", NONE, 0},
      {"Node spawnSync", "spawn_seq.node.per_s", NONE, 0}}},
    {"spawn+wait /bin/true, 2000 sequential, portable backend (CHILDPROC_PORTABLE_POSIX: posix_spawn)",
     "spawn_seq_portable.cp_sync.per_s",
     "spawns/s",
     {{"raw posix_spawn+waitpid", "spawn_seq_portable.posix_spawn.per_s", MIN_RATIO, 0.9}}},
    {"spawn+wait /bin/true, 32 in flight (cp_spawn on a loop)",
     "spawn_32.cp_async.per_s",
     "spawns/s",
     {{"raw posix_spawn, waitpid(-1)", "spawn_32.posix_spawn.per_s", MIN_RATIO, 0.95},
      {"libuv uv_spawn", "spawn_32.uv.per_s", NONE, 0},
      {"Node spawn", "spawn_32.node.per_s", NONE, 0}}},
    {"spawn+wait, parent with 2 GiB resident (cp_spawn_sync)",
     "spawn_2g.cp_sync.us",
     "µs/spawn",
     {{"childproc, small parent (same window)", "spawn_2g.small.cp_sync.us", MAX_RATIO, 1.2},
      {"raw posix_spawn, 2 GiB parent", "spawn_2g.posix_spawn.us", NONE, 0},
      {"raw fork+execve, 2 GiB parent", "spawn_2g.fork.us", NONE, 0},
      {"libuv uv_spawn, 2 GiB parent", "spawn_2g.uv.us", NONE, 0}}},
    {"spawn+wait, parent with 8 GiB resident (cp_spawn_sync)",
     "spawn_8g.cp_sync.us",
     "µs/spawn",
     {{"childproc, small parent (same window)", "spawn_8g.small.cp_sync.us", MAX_RATIO, 1.2},
      {"raw posix_spawn, 8 GiB parent", "spawn_8g.posix_spawn.us", NONE, 0},
      {"raw fork+execve, 8 GiB parent", "spawn_8g.fork.us", NONE, 0}}},
    {"stdout throughput, 1 GiB (cp_spawn, on_stdout)",
     "pipe.cp.mib_s",
     "MiB/s",
     {{"raw blocking read() loop, 64 KiB buffer", "pipe.raw.mib_s", MIN_RATIO, 0.9}}},
    {"cp_exec_sync capture of 100 MiB: time",
     "capture.exec.ms",
     "ms",
     {{"raw read() into a doubling buffer", "capture.raw.ms", NONE, 0},
      {"cp_spawn_sync, same capture", "capture.spawn.ms", NONE, 0}}},
    {"cp_exec_sync capture, time per MiB at 100 MiB (linearity)",
     "capture.exec.ms_per_mib",
     "ms/MiB",
     {{"cp_exec_sync at 10 MiB", "capture10.exec.ms_per_mib", MAX_RATIO, 1.2}}},
    {"cp_exec_sync capture of 100 MiB: peak RSS growth",
     "capture.exec.peak_mib",
     "MiB",
     {{"output size (100 MiB)", "capture.output.mib", MAX_RATIO, 1.5},
      {"raw read() into a doubling buffer", "capture.raw.peak_mib", NONE, 0},
      {"cp_spawn_sync, same capture", "capture.spawn.peak_mib", MAX_RATIO, 1.5}}},
    {"spawn+wait /bin/true with 100,000 variables added (cp_spawn_sync, CP_ENV_EXTEND)",
     "env100k.cp.ms",
     "ms",
     {{"raw posix_spawn, the same environment already built", "env100k.raw.ms", NONE, 0},
      {"childproc with 10,000 variables added", "env10k.cp.ms", NONE, 0}}},
    {"channel round trips, 46-byte JSON (cp_fork_worker echo)",
     "rtt.cp_json.per_s",
     "round trips/s",
     {{"raw socketpair ping-pong", "rtt.raw.per_s", MIN_RATIO, 0.92},
      {"raw ping-pong, each read after epoll_wait (an event loop's limit)", "rtt.raw_epoll.per_s", NONE, 0},
      {"raw ping-pong, each read after poll", "rtt.raw_poll.per_s", NONE, 0},
      {"Node fork + send", "rtt.node.per_s", NONE, 0}}},
    {"channel round trips, 46 bytes, binary mode",
     "rtt.cp_binary.per_s",
     "round trips/s",
     {{"raw socketpair ping-pong", "rtt.raw.per_s", MIN_RATIO, 0.92},
      {"raw ping-pong, each read after epoll_wait (an event loop's limit)", "rtt.raw_epoll.per_s", NONE, 0},
      {"raw ping-pong, each read after poll", "rtt.raw_poll.per_s", NONE, 0}}},
    {"channel one way, 1 KiB JSON messages",
     "oneway.cp_json.per_s",
     "msgs/s",
     {{"raw socketpair, '\\n' framing", "oneway.raw_json.per_s", MIN_RATIO, 0.9},
      {"the same, both sides non-blocking in epoll_wait (an event loop's limit)", "oneway.raw_epoll_json.per_s", NONE, 0},
      {"Node fork + send", "oneway.node.per_s", NONE, 0}}},
    {"channel one way, 1 KiB binary messages",
     "oneway.cp_binary.per_s",
     "msgs/s",
     {{"raw socketpair, length prefix", "oneway.raw_binary.per_s", MIN_RATIO, 0.9},
      {"the same, both sides non-blocking in epoll_wait (an event loop's limit)", "oneway.raw_epoll_binary.per_s", NONE, 0}}},
    {"1000 concurrent children with a stdout pipe: wall time",
     "many.cp.ms",
     "ms",
     {{"raw posix_spawn + epoll loop", "many.raw.ms", MAX_RATIO, 1.2},
      {"libuv uv_spawn + uv_pipe", "many.uv.ms", NONE, 0}}},
    {"memory per live child (parent RSS growth / 1000)",
     "many.cp.kib_per_child",
     "KiB",
     {{"raw posix_spawn + epoll loop", "many.raw.kib_per_child", NONE, 0},
      {"libuv uv_spawn + uv_pipe", "many.uv.kib_per_child", NONE, 0}}},
    {"memory per added child (parent RSS growth from 500 to 1000 live children / 500)",
     "many.cp.kib_per_added_child",
     "KiB",
     {{"raw posix_spawn + epoll loop", "many.raw.kib_per_added_child", NONE, 0}}},
    /* issue 9: the worker pool (bench/pool_bench.c) against the guides' Node pattern */
    {"worker pool of 2, trivial tasks, 1 in flight per worker (cp_pool)",
     "pool.cp_1.per_s",
     "tasks/s",
     {{"Node fork() workers + Map of ids", "pool.node_1.per_s", MIN_RATIO, 1.8},
      {"raw two-worker socketpair ping-pong, same JSON lines", "pool.raw_1.per_s", MIN_RATIO, 0.9},
      {"the same, workers waiting in epoll_wait before each read", "pool.raw_epoll_1.per_s", NONE, 0}}},
    {"worker pool of 2, trivial tasks, 16 in flight per worker (cp_pool)",
     "pool.cp_16.per_s",
     "tasks/s",
     {{"Node fork() workers + Map of ids", "pool.node_16.per_s", NONE, 0}}},
    {"resident memory of an idle pool worker",
     "pool.cp.worker_rss_kib",
     "KiB",
     {{"Node fork() worker", "pool.node.worker_rss_kib", NONE, 0}}},
};

/* Absolute targets: childproc's median at most this, in the row's unit (shown on its first line). */
static const struct {
  const char *key;
  double at_most;
} absolute[] = {
    {"many.cp.kib_per_child", 0.5}, /* issue 18 */
};

static double at_most_of(const char *key) {
  for (size_t i = 0; i < sizeof absolute / sizeof absolute[0]; i++)
    if (strcmp(absolute[i].key, key) == 0) return absolute[i].at_most;
  return 0;
}

static void fmt(char *out, size_t n, double v) {
  if (fabs(v) >= 100)
    snprintf(out, n, "%.0f", v);
  else if (fabs(v) >= 10)
    snprintf(out, n, "%.1f", v);
  else
    snprintf(out, n, "%.2f", v);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: cp_bench_table RESULTS_FILE\n");
    return 2;
  }
  FILE *f = fopen(argv[1], "r");
  if (!f) {
    perror(argv[1]);
    return 2;
  }
  char line[512];
  while (fgets(line, sizeof line, f)) {
    char key[96], rest[256];
    double v;
    if (sscanf(line, "RESULT %95s %lf", key, &v) == 2) {
      series *s = find(key, 1);
      if (s && s->n < MAXVALS) s->v[s->n++] = v;
    } else if (sscanf(line, "SKIP %95s %255[^\n]", key, rest) == 2) {
      series *s = find(key, 1);
      if (s) snprintf(s->skip, sizeof s->skip, "%s", rest);
    }
  }
  fclose(f);

  int missing = 0;
  printf("| figure | childproc median [min–max] | baseline (same run) | baseline median | ratio | target |\n");
  printf("|---|---|---|---|---|---|\n");
  for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
    const row *w = &rows[r];
    series *c = find(w->key, 0);
    char cell[400], a[32], b[32], m[32];
    double cm = 0;
    if (c && c->n) {
      cm = median(c);
      fmt(m, sizeof m, cm);
      fmt(a, sizeof a, minv(c));
      fmt(b, sizeof b, maxv(c));
      snprintf(cell, sizeof cell, "%s %s [%s–%s], n=%d", m, w->unit, a, b, c->n);
    } else {
      const char *why = skip_reason(w->key);
      snprintf(cell, sizeof cell, "n/a (%s)", why ? why : "did not run");
      if (!why) missing++;
    }
    for (int i = 0; i < 6 && w->b[i].label; i++) {
      const baseline *bl = &w->b[i];
      series *s = find(bl->key, 0);
      char bm[300] = "n/a", ratio[32] = "–", target[80] = "";
      if (s && s->n) {
        double v = median(s);
        fmt(bm, sizeof bm, v);
        if (c && c->n && v > 0) {
          double q = cm / v;
          snprintf(ratio, sizeof ratio, "%.2f×", q);
          if (bl->t == MIN_RATIO)
            snprintf(target, sizeof target, "≥ %.2f× %s", bl->goal, q >= bl->goal ? "**met**" : "**not met**");
          else if (bl->t == MAX_RATIO)
            snprintf(target, sizeof target, "≤ %.2f× %s", bl->goal, q <= bl->goal ? "**met**" : "**not met**");
        }
      } else {
        const char *why = skip_reason(bl->key);
        snprintf(bm, sizeof bm, "n/a (%s)", why ? why : "not run");
        if (bl->t == MIN_RATIO)
          snprintf(target, sizeof target, "≥ %.2f×", bl->goal);
        else if (bl->t == MAX_RATIO)
          snprintf(target, sizeof target, "≤ %.2f×", bl->goal);
      }
      double at_most = i == 0 ? at_most_of(w->key) : 0;
      if (at_most > 0 && !target[0]) {
        char goal[32];
        fmt(goal, sizeof goal, at_most);
        if (c && c->n)
          snprintf(target, sizeof target, "≤ %s %s %s", goal, w->unit, cm <= at_most ? "**met**" : "**not met**");
        else
          snprintf(target, sizeof target, "≤ %s %s", goal, w->unit);
      }
      printf("| %s | %s | %s | %s | %s | %s |\n", i == 0 ? w->figure : "", i == 0 ? cell : "", bl->label, bm,
             ratio, target);
    }
  }
  printf("\nratio = childproc median / baseline median, in the row's unit (rates: higher is better; "
         "times and memory: lower is better).\n");
  return missing ? 1 : 0;
}
