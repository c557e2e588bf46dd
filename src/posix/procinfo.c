/* procinfo.c - what the pool asks about processes on POSIX: resident memory and the CPU count.
 *
 * Resident memory: proc_pidinfo(PROC_PIDTASKINFO) on Apple, sysctl(KERN_PROC_PID) on FreeBSD, else
 * /proc/<pid>/statm (Linux); CP_ENOTSUP where none of them answers (no /proc mounted), which the
 * pool documents for max_worker_rss. CPUs: the affinity mask where sched_getaffinity exists, else
 * sysconf(_SC_NPROCESSORS_ONLN). */
#include "posix.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(CP_HAVE_SCHED_GETAFFINITY)
#include <sched.h>
#endif
#if defined(CP_HAVE_PROC_PIDINFO)
#include <libproc.h>
#elif defined(CP_HAVE_KERN_PROC_PID)
#include <sys/types.h>
#include <sys/sysctl.h>
#include <sys/user.h>
#endif

#if !defined(CP_HAVE_PROC_PIDINFO) && !defined(CP_HAVE_KERN_PROC_PID)
static int rss_from_proc(int64_t pid, uint64_t *bytes) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%lld/statm", (long long)pid);
  int fd = posix_fd_above_stdio(open(path, O_RDONLY | O_CLOEXEC));
  if (fd < 0) {
    if (errno != ENOENT) return posix_error(errno);
    /* Gone, or no /proc here at all: our own entry tells which. */
    return access("/proc/self/statm", R_OK) == 0 ? CP_ESRCH : CP_ENOTSUP;
  }
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
}
#endif

int os_proc_rss(int64_t pid, uint64_t *bytes) {
  if (!bytes || pid < 0) return CP_EINVAL;
  *bytes = 0;
#if defined(CP_HAVE_PROC_PIDINFO)
  if (pid == 0) return 0;
  struct proc_taskinfo ti;
  int n = proc_pidinfo((int)pid, PROC_PIDTASKINFO, 0, &ti, (int)sizeof ti);
  if (n <= 0) return errno == ESRCH || errno == 0 ? CP_ESRCH : posix_error(errno);
  if (n < (int)sizeof ti) return CP_EIO;
  *bytes = ti.pti_resident_size;
  return 0;
#elif defined(CP_HAVE_KERN_PROC_PID)
  if (pid == 0) return 0;
  int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PID, (int)pid};
  struct kinfo_proc kp;
  size_t len = sizeof kp;
  if (sysctl(mib, 4, &kp, &len, NULL, 0) < 0) return errno == ESRCH ? CP_ESRCH : posix_error(errno);
  if (len == 0) return CP_ESRCH;
  long page = sysconf(_SC_PAGESIZE);
  *bytes = (uint64_t)kp.ki_rssize * (uint64_t)(page > 0 ? page : 4096);
  return 0;
#else
  if (pid == 0) return access("/proc/self/statm", R_OK) == 0 ? 0 : CP_ENOTSUP;
  return rss_from_proc(pid, bytes);
#endif
}

unsigned os_cpu_count(void) {
#if defined(CP_HAVE_SCHED_GETAFFINITY)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return (unsigned)n;
  }
#endif
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (unsigned)n : 1;
}
