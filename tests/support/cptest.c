/* cptest.c - the tests' shared support: helper paths, temporary files, fd and child counting. */
#include "cptest.h"

#ifdef _WIN32
#include <windows.h>
#include <tlhelp32.h>
#include <fcntl.h>
#include <io.h>
#include <sys/stat.h>
#include <wchar.h>
#else
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <poll.h>
#if defined(__APPLE__)
#include <mach-o/dyld.h>
#elif defined(__FreeBSD__)
#include <sys/sysctl.h>
#elif defined(__linux__)
#include <sys/syscall.h>
#endif
#endif

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (!p) abort();
  memcpy(p, s, n);
  return p;
}

char *cptest_join(const char *a, const char *b) {
  size_t na = strlen(a), nb = strlen(b);
  char *p = malloc(na + nb + 2);
  if (!p) abort();
  memcpy(p, a, na);
  p[na] = CPTEST_SEP[0];
  memcpy(p + na + 1, b, nb + 1);
  return p;
}

#ifdef _WIN32
/* UTF-8 <-> UTF-16 for paths; malloc'd, NULL on failure. */
static wchar_t *to_w(const char *s) {
  int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
  if (n <= 0) return NULL;
  wchar_t *w = malloc((size_t)n * sizeof *w);
  if (!w) abort();
  MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
  return w;
}

static char *from_w(const wchar_t *w) {
  int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
  if (n <= 0) return NULL;
  char *s = malloc((size_t)n);
  if (!s) abort();
  WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL);
  return s;
}
#endif

const char *cptest_bin_dir(void) {
  static char *dir;
  if (dir) return dir;
#ifdef _WIN32
  wchar_t buf[32768];
  DWORD n = GetModuleFileNameW(NULL, buf, (DWORD)(sizeof buf / sizeof buf[0]));
  if (n == 0 || n >= sizeof buf / sizeof buf[0]) abort();
  char *exe = from_w(buf);
  if (!exe) abort();
  char *slash = strrchr(exe, '\\');
  char *fwd = strrchr(exe, '/');
  if (fwd && (!slash || fwd > slash)) slash = fwd;
#else
  char buf[PATH_MAX];
  if (cptest_self_exe(buf, sizeof buf) < 0) abort();
  char *exe = xstrdup(buf);
  char *slash = strrchr(exe, '/');
#endif
  if (!slash) abort();
  *slash = '\0';
  dir = exe;
  return dir;
}

const char *cptest_bin(const char *name) {
  /* A few names are asked for, many times each: keep them for the life of the process. */
  static struct { char *name, *path; } cache[16];
  for (size_t i = 0; i < sizeof cache / sizeof cache[0]; i++) {
    if (cache[i].name && strcmp(cache[i].name, name) == 0) return cache[i].path;
    if (!cache[i].name) {
      char *file = malloc(strlen(name) + sizeof CPTEST_EXE);
      if (!file) abort();
      strcpy(file, name);
      strcat(file, CPTEST_EXE);
      cache[i].path = cptest_join(cptest_bin_dir(), file);
      free(file);
      cache[i].name = xstrdup(name);
      return cache[i].path;
    }
  }
  abort();
}

const char *cptest_helper(void) { return cptest_bin("cp-testchild"); }

bool cptest_is_wine(void) {
#ifdef _WIN32
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  return ntdll && GetProcAddress(ntdll, "wine_get_version") != NULL;
#else
  return false;
#endif
}

bool cptest_is_pattern(const char *buf, size_t len) {
  for (size_t i = 0; i < len; i++) {
    if (buf[i] != cptest_pattern_byte(i)) {
      print_message("pattern mismatch at offset %lu of %lu: 0x%02x, expected 0x%02x\n", (unsigned long)i,
                    (unsigned long)len, (unsigned char)buf[i], (unsigned char)cptest_pattern_byte(i));
      return false;
    }
  }
  return true;
}

void cptest_assert_rc_(int rc, const cp_result *res, int expect, const char *file, int line) {
  if (rc == expect) return;
  print_message("%s:%d: expected %s (%d), got %s (%d); error: \"%s\" syscall=%s path=%s os_error=%d\n", file,
                line, cp_err_name(expect), expect, cp_err_name(rc), rc, res ? res->error.message : "-",
                res && res->error.syscall ? res->error.syscall : "(null)",
                res && res->error.path ? res->error.path : "(null)", res ? res->error.os_error : 0);
  _fail(file, line);
}

int cptest_run(const char *const *args, const cp_options *o, cp_result *res) {
  return cp_spawn_sync(cptest_helper(), args, o, res);
}

char *cptest_hex_lines(const char *const *args) {
  size_t n = 1;
  for (size_t i = 0; args[i]; i++) n += strlen(args[i]) * 2 + 1;
  char *out = malloc(n), *o = out;
  if (!out) abort();
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; args[i]; i++) {
    for (const unsigned char *p = (const unsigned char *)args[i]; *p; p++) {
      *o++ = digits[*p >> 4];
      *o++ = digits[*p & 15];
    }
    *o++ = '\n';
  }
  *o = '\0';
  return out;
}

bool cptest_buf_eq(const cp_buffer *b, const char *s) {
  size_t n = strlen(s);
  if (b->data && b->len == n && memcmp(b->data, s, n) == 0) return true;
  print_message("buffer (%lu bytes) \"%.*s\" != expected (%lu bytes) \"%s\"\n", (unsigned long)b->len,
                (int)(b->len > 400 ? 400 : b->len), b->data ? b->data : "", (unsigned long)n, s);
  return false;
}

static void echo_message(cp_channel *ch, const char *msg, size_t len, void *ud) {
  (void)ud;
  cp_channel_send(ch, msg, len, NULL, NULL);
}

int cptest_worker_echo(cp_loop *loop, cp_channel *ch, int argc, char **argv, void *ud) {
  (void)loop, (void)argc, (void)argv, (void)ud;
  cp_channel_events ev = {.on_message = echo_message};
  cp_channel_set_events(ch, &ev, NULL);
  return 0;
}

char *cptest_tmpdir;

int cptest_tmpdir_setup(void **state) {
  (void)state;
  cptest_tmpdir = cptest_mkdtemp();
  return cptest_tmpdir ? 0 : -1;
}

int cptest_tmpdir_teardown(void **state) {
  (void)state;
  cptest_rmtree(cptest_tmpdir);
  free(cptest_tmpdir);
  cptest_tmpdir = NULL;
  return 0;
}

void cptest_append(char *buf, size_t cap, size_t *len, const char *d, size_t n) {
  if (!n || *len + n >= cap) return;
  memcpy(buf + *len, d, n);
  *len += n;
  buf[*len] = '\0';
}

int cptest_count_lines(const char *s) {
  int n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

uint64_t cptest_now_ms(void) {
#ifdef _WIN32
  /* the library's own clock (src/win32/loop.c): GetTickCount64 ticks in 15.6 ms steps on Windows */
  LARGE_INTEGER now, freq;
  if (!QueryPerformanceFrequency(&freq) || !freq.QuadPart || !QueryPerformanceCounter(&now))
    return (uint64_t)GetTickCount64();
  uint64_t c = (uint64_t)now.QuadPart, f = (uint64_t)freq.QuadPart;
  return c / f * 1000u + c % f * 1000u / f;
#else
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
#endif
}

/* ---- files ---------------------------------------------------------------------------------- */

#ifdef _WIN32
char *cptest_mkdtemp(void) {
  wchar_t tmp[MAX_PATH + 1];
  DWORD n = GetTempPathW(MAX_PATH + 1, tmp);
  if (n == 0 || n > MAX_PATH) return NULL;
  static unsigned counter;
  for (int attempt = 0; attempt < 100; attempt++) {
    wchar_t dir[MAX_PATH + 64];
    swprintf(dir, sizeof dir / sizeof dir[0], L"%lscptest-%lu-%u-%lu", tmp,
             (unsigned long)GetCurrentProcessId(), counter++, (unsigned long)GetTickCount());
    if (CreateDirectoryW(dir, NULL)) return from_w(dir);
    if (GetLastError() != ERROR_ALREADY_EXISTS) return NULL;
  }
  return NULL;
}

static void rmtree_w(const wchar_t *dir) {
  size_t n = wcslen(dir);
  wchar_t *pat = malloc((n + 3) * sizeof *pat);
  if (!pat) abort();
  swprintf(pat, n + 3, L"%ls\\*", dir);
  WIN32_FIND_DATAW fd;
  HANDLE h = FindFirstFileW(pat, &fd);
  free(pat);
  if (h != INVALID_HANDLE_VALUE) {
    do {
      if (wcscmp(fd.cFileName, L".") == 0 || wcscmp(fd.cFileName, L"..") == 0) continue;
      size_t m = n + wcslen(fd.cFileName) + 2;
      wchar_t *child = malloc(m * sizeof *child);
      if (!child) abort();
      swprintf(child, m, L"%ls\\%ls", dir, fd.cFileName);
      if (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) {
        rmtree_w(child);
      } else {
        SetFileAttributesW(child, FILE_ATTRIBUTE_NORMAL);
        DeleteFileW(child);
      }
      free(child);
    } while (FindNextFileW(h, &fd));
    FindClose(h);
  }
  RemoveDirectoryW(dir);
}

void cptest_rmtree(const char *path) {
  if (!path) return;
  wchar_t *w = to_w(path);
  if (w) rmtree_w(w);
  free(w);
}

int cptest_write_file(const char *path, const void *data, size_t len, int mode) {
  (void)mode;
  wchar_t *w = to_w(path);
  if (!w) return -1;
  HANDLE h = CreateFileW(w, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
  free(w);
  if (h == INVALID_HANDLE_VALUE) return -1;
  DWORD done = 0;
  BOOL ok = len == 0 || (WriteFile(h, data, (DWORD)len, &done, NULL) && done == len);
  CloseHandle(h);
  return ok ? 0 : -1;
}

char *cptest_read_file(const char *path, size_t *len) {
  wchar_t *w = to_w(path);
  if (!w) return NULL;
  HANDLE h = CreateFileW(w, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING,
                         FILE_ATTRIBUTE_NORMAL, NULL);
  free(w);
  if (h == INVALID_HANDLE_VALUE) return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap + 1);
  if (!buf) abort();
  for (;;) {
    if (n == cap) {
      cap *= 2;
      buf = realloc(buf, cap + 1);
      if (!buf) abort();
    }
    DWORD got = 0;
    if (!ReadFile(h, buf + n, (DWORD)(cap - n), &got, NULL) || got == 0) break;
    n += got;
  }
  CloseHandle(h);
  buf[n] = '\0';
  if (len) *len = n;
  return buf;
}

int cptest_copy_file(const char *from, const char *to) {
  wchar_t *a = to_w(from), *b = to_w(to);
  BOOL ok = a && b && CopyFileW(a, b, FALSE);
  free(a);
  free(b);
  return ok ? 0 : -1;
}

int cptest_mkdir(const char *path) {
  wchar_t *w = to_w(path);
  BOOL ok = w && CreateDirectoryW(w, NULL);
  free(w);
  return ok ? 0 : -1;
}

void cptest_setenv(const char *name, const char *value) {
  wchar_t *n = to_w(name), *v = value ? to_w(value) : NULL;
  if (!n || (value && !v)) abort();
  /* Both the OS block (what GetEnvironmentStringsW sees) and the CRT's copy. */
  SetEnvironmentVariableW(n, v);
  size_t len = wcslen(n) + (v ? wcslen(v) : 0) + 2;
  wchar_t *kv = malloc(len * sizeof *kv);
  if (!kv) abort();
  swprintf(kv, len, L"%ls=%ls", n, v ? v : L"");
  _wputenv(kv);
  free(kv);
  free(n);
  free(v);
}

cp_os_handle cptest_open_handle(const char *path, bool for_write) {
  wchar_t *w = to_w(path);
  if (!w) return CP_INVALID_HANDLE;
  HANDLE h = CreateFileW(w, for_write ? GENERIC_WRITE : GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE,
                         NULL, for_write ? CREATE_ALWAYS : OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
  free(w);
  return h == INVALID_HANDLE_VALUE ? CP_INVALID_HANDLE : (cp_os_handle)h;
}

void cptest_close_handle(cp_os_handle h) { CloseHandle((HANDLE)h); }

int cptest_redirect_std(int stdfd, const char *path) {
  fflush(stdfd == 1 ? stdout : stderr);
  wchar_t *w = to_w(path);
  if (!w) return -1;
  int fd = _wopen(w, _O_WRONLY | _O_CREAT | _O_TRUNC | _O_BINARY, _S_IREAD | _S_IWRITE);
  free(w);
  if (fd < 0) return -1;
  int saved = _dup(stdfd);
  _dup2(fd, stdfd);
  _close(fd);
  SetStdHandle(stdfd == 1 ? STD_OUTPUT_HANDLE : STD_ERROR_HANDLE, (HANDLE)_get_osfhandle(stdfd));
  return saved;
}

void cptest_restore_std(int stdfd, int token) {
  if (token < 0) return;
  fflush(stdfd == 1 ? stdout : stderr);
  _dup2(token, stdfd);
  _close(token);
  SetStdHandle(stdfd == 1 ? STD_OUTPUT_HANDLE : STD_ERROR_HANDLE, (HANDLE)_get_osfhandle(stdfd));
}

/* SystemExtendedHandleInformation's entries, as ntdll returns them. */
typedef struct handle_entry {
  PVOID object;
  ULONG_PTR pid;
  ULONG_PTR value;
  ULONG access;
  USHORT backtrace;
  USHORT type;
  ULONG attributes;
  ULONG reserved;
} handle_entry;

typedef struct handle_info {
  ULONG_PTR count;
  ULONG_PTR reserved;
  handle_entry handles[1];
} handle_info;

typedef LONG(WINAPI *query_system_fn)(ULONG, PVOID, ULONG, PULONG);

/* Counts this process's handles in the system-wide handle table (ntdll, found at run time). */
static int handles_from_system_table(void) {
  query_system_fn query = (query_system_fn)(void (*)(void))GetProcAddress(GetModuleHandleW(L"ntdll.dll"),
                                                                          "NtQuerySystemInformation");
  if (!query) return -1;
  for (ULONG size = 1u << 16; size < (1u << 30); size *= 2) {
    handle_info *info = malloc(size);
    if (!info) return -1;
    ULONG need = 0;
    LONG status = query(64 /* SystemExtendedHandleInformation */, info, size, &need);
    if (status == (LONG)0xC0000004 /* STATUS_INFO_LENGTH_MISMATCH */) {
      free(info);
      continue;
    }
    int n = -1;
    if (status == 0) {
      n = 0;
      for (ULONG_PTR i = 0; i < info->count; i++)
        if (info->handles[i].pid == GetCurrentProcessId()) n++;
    }
    free(info);
    return n;
  }
  return -1;
}

int cptest_open_fds(void) {
  DWORD count = 0;
  /* Wine 8 answers GetProcessHandleCount with 0; its system handle table is accurate. */
  if (GetProcessHandleCount(GetCurrentProcess(), &count) && count > 0) return (int)count;
  return handles_from_system_table();
}

bool cptest_no_children(void) {
  HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
  if (snap == INVALID_HANDLE_VALUE) return false;
  DWORD self = GetCurrentProcessId();
  PROCESSENTRY32W pe;
  pe.dwSize = sizeof pe;
  bool none = true;
  for (BOOL ok = Process32FirstW(snap, &pe); ok; ok = Process32NextW(snap, &pe)) {
    if (pe.th32ParentProcessID == self && pe.th32ProcessID != self) {
      HANDLE p = OpenProcess(SYNCHRONIZE, FALSE, pe.th32ProcessID);
      if (p) {
        /* A recycled id whose parent was us once would still be listed: count only live ones. */
        if (WaitForSingleObject(p, 0) == WAIT_TIMEOUT) none = false;
        CloseHandle(p);
      }
    }
  }
  CloseHandle(snap);
  return none;
}

void cptest_cloexec_inherited_fds(void) {}

bool cptest_process_gone(int64_t pid, int wait_ms) {
  HANDLE h = OpenProcess(SYNCHRONIZE, FALSE, (DWORD)pid);
  if (!h) return true;
  bool gone = WaitForSingleObject(h, (DWORD)wait_ms) == WAIT_OBJECT_0;
  CloseHandle(h);
  return gone;
}

void cptest_kill_pid(int64_t pid) {
  HANDLE h = OpenProcess(PROCESS_TERMINATE, FALSE, (DWORD)pid);
  if (h) {
    TerminateProcess(h, 1);
    CloseHandle(h);
  }
}

#else /* POSIX */

char *cptest_mkdtemp(void) {
  const char *base = getenv("TMPDIR");
  if (!base || !*base) base = "/tmp";
  char *tmpl = cptest_join(base, "cptest-XXXXXX");
  if (!mkdtemp(tmpl)) {
    free(tmpl);
    return NULL;
  }
  char *real = realpath(tmpl, NULL);
  free(tmpl);
  return real;
}

void cptest_rmtree(const char *path) {
  if (!path) return;
  DIR *d = opendir(path);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      char *child = cptest_join(path, e->d_name);
      struct stat st;
      if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode)) {
        chmod(child, 0700);
        cptest_rmtree(child);
      } else {
        unlink(child);
      }
      free(child);
    }
    closedir(d);
  }
  rmdir(path);
}

int cptest_write_file(const char *path, const void *data, size_t len, int mode) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  const char *p = data;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  if (fchmod(fd, (mode_t)mode) != 0) {
    close(fd);
    return -1;
  }
  return close(fd);
}

char *cptest_read_file(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap + 1);
  if (!buf) abort();
  for (;;) {
    if (n == cap) {
      cap *= 2;
      buf = realloc(buf, cap + 1);
      if (!buf) abort();
    }
    ssize_t got = read(fd, buf + n, cap - n);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    n += (size_t)got;
  }
  close(fd);
  buf[n] = '\0';
  if (len) *len = n;
  return buf;
}

int cptest_copy_file(const char *from, const char *to) {
  size_t len;
  char *data = cptest_read_file(from, &len);
  if (!data) return -1;
  int rc = cptest_write_file(to, data, len, 0755);
  free(data);
  return rc;
}

int cptest_mkdir(const char *path) { return mkdir(path, 0755); }

void cptest_setenv(const char *name, const char *value) {
  if (value)
    setenv(name, value, 1);
  else
    unsetenv(name);
}

cp_os_handle cptest_open_handle(const char *path, bool for_write) {
  int fd = open(path, for_write ? O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC : O_RDONLY | O_CLOEXEC, 0600);
  return fd < 0 ? CP_INVALID_HANDLE : fd;
}

void cptest_close_handle(cp_os_handle h) { close(h); }

int cptest_redirect_std(int stdfd, const char *path) {
  fflush(stdfd == 1 ? stdout : stderr);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  int saved = fcntl(stdfd, F_DUPFD_CLOEXEC, 3);
  dup2(fd, stdfd);
  close(fd);
  return saved;
}

void cptest_restore_std(int stdfd, int token) {
  if (token < 0) return;
  fflush(stdfd == 1 ? stdout : stderr);
  dup2(token, stdfd);
  close(token);
}

int cptest_self_exe(char *buf, size_t size) {
#if defined(__APPLE__)
  char raw[PATH_MAX];
  uint32_t len = sizeof raw;
  if (_NSGetExecutablePath(raw, &len) != 0 || !realpath(raw, buf)) return -1;
  (void)size;
  return 0;
#elif defined(__FreeBSD__)
  int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PATHNAME, -1};
  size_t len = size;
  return sysctl(mib, 4, buf, &len, NULL, 0);
#else
  ssize_t n = readlink("/proc/self/exe", buf, size - 1);
  if (n <= 0) return -1;
  buf[n] = '\0';
  return 0;
#endif
}

/* The highest descriptor number worth probing where no directory lists them. */
static int fd_probe_limit(void) {
  struct rlimit rl;
  long max = 65536;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < max)
    max = (long)rl.rlim_cur;
  return (int)max;
}

/* /proc/self/fd (Linux), /dev/fd (Apple; FreeBSD's lists only 0..2 without fdescfs, so it is not
 * trusted there), else an fcntl(F_GETFD) probe of every number below the descriptor limit. */
static DIR *open_fd_dir(void) {
  DIR *d = opendir("/proc/self/fd");
#if defined(__APPLE__)
  if (!d) d = opendir("/dev/fd");
#endif
  return d;
}

int cptest_open_fds(void) {
  DIR *d = open_fd_dir();
  if (!d) {
    int n = 0, max = fd_probe_limit();
    for (int fd = 0; fd < max; fd++)
      if (fcntl(fd, F_GETFD) >= 0) n++;
    return n;
  }
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] != '.') n++;
  }
  closedir(d);
  return n - 1; /* the directory's own fd */
}

int cptest_pidfd(int64_t pid) {
#if defined(__linux__) && defined(SYS_pidfd_open)
  return (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

bool cptest_pid_ends_within(int64_t pid, int ms) {
  int fd = cptest_pidfd(pid);
  if (fd < 0) {
    if (errno == ESRCH) return true;
    return cptest_process_gone(pid, ms);
  }
  struct pollfd p = {fd, POLLIN, 0};
  int n;
  uint64_t end = cptest_now_ms() + (uint64_t)ms;
  do { /* a SIGCHLD handler (the poll cell's) interrupts poll(), which is never restarted */
    uint64_t now = cptest_now_ms();
    n = poll(&p, 1, now >= end ? 0 : (int)(end - now));
  } while (n < 0 && errno == EINTR);
  close(fd);
  return n == 1;
}

bool cptest_no_children(void) {
  int status;
  pid_t p = waitpid(-1, &status, WNOHANG);
  return p == -1 && errno == ECHILD;
}

/* A process we are not the parent of can't be waited for: look at its state until it is gone. */
static bool gone_now(int64_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return true;
  buf[n] = '\0';
  const char *paren = strrchr(buf, ')');
  return paren && (paren[2] == 'Z' || paren[2] == 'X');
}

bool cptest_process_gone(int64_t pid, int wait_ms) {
  uint64_t deadline = cptest_now_ms() + (uint64_t)wait_ms;
  for (;;) {
    if (gone_now(pid)) return true;
    if (cptest_now_ms() >= deadline) return false;
    struct timespec ts = {0, 5 * 1000000L};
    nanosleep(&ts, NULL);
  }
}

void cptest_kill_pid(int64_t pid) {
  if (pid > 0) kill((pid_t)pid, SIGKILL);
}

#ifdef CP_COVERAGE
void __gcov_dump(void);
#endif
void cptest_exit(int code) {
#ifdef CP_COVERAGE
  __gcov_dump();
#endif
  _exit(code);
}

void cptest_cloexec_inherited_fds(void) {
  DIR *d = open_fd_dir();
  if (!d) {
    int max = fd_probe_limit();
    for (int fd = 3; fd < max; fd++) {
      int flags = fcntl(fd, F_GETFD);
      if (flags >= 0) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }
    return;
  }
  int self = dirfd(d);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    int fd = atoi(e->d_name);
    if (fd > 2 && fd != self) {
      int flags = fcntl(fd, F_GETFD);
      if (flags >= 0) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }
  }
  closedir(d);
}

#endif

static void cprun_on_out(cp_child *c, const char *d, size_t n, void *ud) {
  (void)c;
  cptest_cprun *r = ud;
  cptest_append(r->out, sizeof r->out, &r->len, d, n);
}

static void cprun_on_close(cp_child *c, int64_t status, int sig, void *ud) {
  (void)c, (void)sig;
  cptest_cprun *r = ud;
  r->closed = true;
  r->status = status;
}

void cptest_cprun_start(cptest_cprun *r, const char *const *args) {
  memset(r, 0, sizeof *r);
  assert_int_equal(cp_loop_new(&r->loop), 0);
  cp_child_events ev = {.on_stdout = cprun_on_out, .on_close = cprun_on_close};
  cp_options o = {.stdio = {{CP_STDIO_IGNORE, 0}, {CP_STDIO_PIPE, 0}, {CP_STDIO_INHERIT, 0}}};
  assert_int_equal(cp_spawn(r->loop, cptest_bin("cprun"), args, &o, &ev, r, &r->child), 0);
}

static void seen_on_exit(cp_child *c, int64_t status, int sig, void *ud) {
  cptest_seen *s = ud;
  s->status = status;
  s->signal = sig;
  s->exited = true;
#ifndef _WIN32
  s->leader_alive = kill((pid_t)cp_child_pid(c), 0) == 0;
#else
  (void)c;
#endif
}
static void seen_on_close(cp_child *c, int64_t status, int sig, void *ud) {
  (void)c, (void)status, (void)sig;
  ((cptest_seen *)ud)->closed = true;
}
static void seen_on_stdout(cp_child *c, const char *data, size_t len, void *ud) {
  (void)c, (void)data;
  ((cptest_seen *)ud)->out_bytes += len;
}
const cp_child_events cptest_seen_events = {.on_exit = seen_on_exit, .on_close = seen_on_close, .on_stdout = seen_on_stdout};
