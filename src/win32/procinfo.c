/* procinfo.c - what the pool asks about processes on Windows: resident memory (the working set,
 * K32GetProcessMemoryInfo, in kernel32 since Windows 7) and the CPU count. */
#include "../os.h"

#include <windows.h>
#include <psapi.h>

int os_proc_rss(int64_t pid, uint64_t *bytes) {
  if (!bytes || pid < 0) return CP_EINVAL;
  *bytes = 0;
  if (pid == 0) return 0;
  HANDLE h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, (DWORD)pid);
  if (!h) {
    DWORD e = GetLastError();
    return e == ERROR_INVALID_PARAMETER ? CP_ESRCH : e == ERROR_ACCESS_DENIED ? CP_EPERM : CP_EUNKNOWN;
  }
  PROCESS_MEMORY_COUNTERS pmc;
  ZeroMemory(&pmc, sizeof pmc);
  pmc.cb = sizeof pmc;
  BOOL ok = K32GetProcessMemoryInfo(h, &pmc, sizeof pmc);
  DWORD code = STILL_ACTIVE;
  BOOL have_code = GetExitCodeProcess(h, &code);
  CloseHandle(h);
  if (have_code && code != STILL_ACTIVE) return CP_ESRCH;
  if (!ok) return CP_EUNKNOWN;
  *bytes = (uint64_t)pmc.WorkingSetSize;
  return 0;
}

unsigned os_cpu_count(void) {
  DWORD n = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
  if (n == 0) {
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    n = si.dwNumberOfProcessors;
  }
  return n > 0 ? (unsigned)n : 1;
}
