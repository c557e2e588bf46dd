/* common.h - what the benchmark programs share: a clock, result lines, resident memory, a big
 * touched heap, argument parsing. Header-only (static functions) so each program is one file.
 *
 * Every program prints its measurements as lines
 *     RESULT <key> <value>
 * on stdout; bench/run.sh collects them over repetitions and bench/table.c turns them into one
 * table. Anything else a program prints is commentary. A program that cannot measure what it was
 * asked for exits non-zero (run.sh then fails); one whose baseline is unavailable prints
 *     SKIP <key> <reason>
 * and exits 0. */
#ifndef CP_BENCH_COMMON_H
#define CP_BENCH_COMMON_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static inline double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void bench_result(const char *key, double value) {
  printf("RESULT %s %.6g\n", key, value);
  fflush(stdout);
}

static inline void bench_skip(const char *key, const char *reason) {
  printf("SKIP %s %s\n", key, reason);
  fflush(stdout);
}

static inline void bench_die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("bench: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

/* A field of /proc/self/status in KiB ("VmRSS", "VmHWM"), -1 if unknown. */
static inline long bench_status_kib(const char *field) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  size_t fl = strlen(field);
  long v = -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
      v = strtol(line + fl + 1, NULL, 10);
      break;
    }
  fclose(f);
  return v;
}

/* MemAvailable from /proc/meminfo in MiB, -1 if unknown. */
static inline long bench_mem_available_mib(void) {
  FILE *f = fopen("/proc/meminfo", "r");
  if (!f) return -1;
  char line[256];
  long v = -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "MemAvailable:", 13) == 0) {
      v = strtol(line + 13, NULL, 10) / 1024;
      break;
    }
  fclose(f);
  return v;
}

/* A resident heap of `mib` MiB (every page touched, 4 KiB pages: what fork() has to copy page
 * tables for), or NULL for 0. Refuses (returns NULL, *skip set) when the machine has less than
 * the heap plus 2 GiB available, so a benchmark never pushes a shared machine into the OOM killer. */
static inline void *bench_heap(size_t mib, const char **skip) {
  *skip = NULL;
  if (!mib) return NULL;
  long avail = bench_mem_available_mib();
  if (avail >= 0 && (size_t)avail < mib + 2048) {
    *skip = "not-enough-free-memory";
    return NULL;
  }
  size_t len = mib << 20;
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) bench_die("mmap of %zu MiB: %s", mib, strerror(errno));
#ifdef MADV_NOHUGEPAGE
  madvise(p, len, MADV_NOHUGEPAGE); /* small pages, as a malloc heap has (THP "madvise" or "never") */
#endif
#ifdef MADV_POPULATE_WRITE
  madvise(p, len, MADV_POPULATE_WRITE); /* faults the pages in one call (Linux 5.14+) */
#endif
  memset(p, 0x5a, len);
  return p;
}

static inline void bench_heap_free(void *p, size_t mib) {
  if (p) munmap(p, mib << 20);
}

/* Raises the soft descriptor limit to the hard one (Node does the same at start-up). */
static inline void bench_raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

/* "--name value" options after the subcommand, as longs. */
static inline long bench_opt(int argc, char **argv, const char *name, long def) {
  for (int i = 0; i + 1 < argc; i++)
    if (strcmp(argv[i], name) == 0) return strtol(argv[i + 1], NULL, 10);
  return def;
}

static inline const char *bench_opt_s(int argc, char **argv, const char *name, const char *def) {
  for (int i = 0; i + 1 < argc; i++)
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  return def;
}

#endif
