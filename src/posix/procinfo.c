/* procinfo.c - what the pool asks about processes on POSIX: resident memory (Linux /proc/<pid>/statm)
 * and the CPU count. */
#include "posix.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#if defined(__linux__)
#include <sched.h>
#endif

int os_proc_rss(int64_t pid, uint64_t *bytes) {
#if defined(__linux__)
  if (!bytes || pid < 0) return CP_EINVAL;
  *bytes = 0;
  if (pid == 0) return 0;
  char path[64];
  snprintf(path, sizeof path, "/proc/%lld/statm", (long long)pid);
  int fd = posix_fd_above_stdio(open(path, O_RDONLY | O_CLOEXEC));
  if (fd < 0) return errno == ENOENT ? CP_ESRCH : posix_error(errno);
  char buf[128];
  ssize_t n;
  do
    n = read(fd, buf, sizeof buf - 1);
  while (n < 0 && errno == EINTR);
  int err = errno;
  close(fd);
  if (n < 0) return err == ESRCH ? CP_ESRCH : posix_error(err);
  buf[n] = '\0';
  unsigned long long size = 0, resident = 0;
  if (sscanf(buf, "%llu %llu", &size, &resident) != 2) return CP_EIO;
  long page = sysconf(_SC_PAGESIZE);
  *bytes = (uint64_t)resident * (uint64_t)(page > 0 ? page : 4096);
  return 0;
#else
  (void)pid;
  if (bytes) *bytes = 0;
  return CP_ENOTSUP;
#endif
}

unsigned os_cpu_count(void) {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return (unsigned)n;
  }
#endif
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (unsigned)n : 1;
}
