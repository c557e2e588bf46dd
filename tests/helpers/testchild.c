/* testchild.c - the helper child the test suites run: one small program, driven by its arguments,
 * built for every target (on Windows a wmain program importing only kernel32 and msvcrt, so it
 * starts in ~45 ms under Wine, with its argv taken from UTF-16 without ANSI code page loss).
 *
 *   cp-testchild <mode> [args...]
 *
 * Modes (stdout and stderr are binary on every platform: "\n" is written as one byte):
 *   exit N            exits with status N.
 *   argv [ARG...]     prints each of its argv[1..] (the word "argv" itself first) on a line of its
 *                     own as lowercase hex of the argument's UTF-8 bytes, so any byte or character
 *                     round-trips; an empty argument is an empty line. Each line ends in "\n".
 *                     On Windows the UTF-16 argument is encoded as WTF-8 (a lone surrogate becomes
 *                     its 3-byte form), so nothing is replaced silently.
 *   argv0             prints argv[0] as is (UTF-8), no newline.
 *   -c COMMAND        prints COMMAND as is: the helper standing in for a shell (options.shell).
 *   env NAME          prints the value of NAME as is, no newline; exits 3 when NAME is unset.
 *   envall            prints every NAME=VALUE of its environment, each followed by "\n".
 *   cwd               prints its working directory, no newline.
 *   cat               copies stdin to stdout until end of file.
 *   out N | err N     writes N bytes of the pattern to stdout | stderr. The pattern's byte at
 *                     offset i is 'a' + i % 26 (cptest_pattern_byte()).
 *   both N            writes N pattern bytes to stdout and N to stderr, alternating in 4 KiB chunks.
 *   fill-cat N        "both N", then "cat": fills both pipes before it reads any of stdin.
 *   out-sleep N MS    writes N pattern bytes to stdout, then sleeps MS milliseconds.
 *   err-sleep N MS    the same on stderr.
 *   sleep-err MS N    sleeps MS milliseconds, then writes N pattern bytes to stderr.
 *   sleep MS          sleeps MS milliseconds, then exits 0.
 *   noread-sleep MS   the same, said for tests where stdin must stay unread.
 *   fds               POSIX: lists its open fds (from /proc/self/fd, without that directory's own
 *                     fd), ascending, one per line. Windows: prints nothing.
 *   signal SIG        POSIX: sends itself SIG (a number, "TERM" or "SIGTERM"); exits 5 if it survives.
 *   ignore-term MS    POSIX: ignores SIGTERM, prints "ready\n", sleeps MS. Windows: prints, sleeps.
 *   sigstate          POSIX: prints "blocked:<n,n,...>\nignored:<n,n,...>\n": the signals blocked in
 *                     its mask and those whose disposition is SIG_IGN. Windows: both lists empty.
 *   pid               prints its process id, no newline.
 *   spawn-sleeper MS [WAIT]  starts a grandchild "cp-testchild sleep MS" with its stdio on the null
 *                     device (so it holds none of our pipes), prints the grandchild's pid and "\n",
 *                     then sleeps WAIT ms (default 0) and exits 0 without waiting for the grandchild.
 *   hold WHICH WAIT MODE [ARGS...]  starts a grandchild "cp-testchild MODE ARGS..." that holds our
 *                     stdout (WHICH out), stderr (err), both (both) or neither (none), the rest of
 *                     its stdio on the null device; prints its pid and "\n"; sleeps WAIT ms and exits
 *                     0 without waiting for it: the daemon that keeps a parent's pipes open.
 *   ready-sleep MS [TREE]  prints "ready <own pid>", and with TREE also starts a grandchild as
 *                     spawn-sleeper does and prints " <its pid>", then "\n", and sleeps MS.
 *   show              Windows: prints "<1 if STARTF_USESHOWWINDOW> <wShowWindow>\n" of its STARTUPINFO.
 *   ignore-ctrlc-sleep MS  Windows: ignores Ctrl-C, prints "ready <pid>\n", sleeps MS.
 *   ids               POSIX: prints "<pid> <process group> <session>\n". Windows: "<pid> 0 0\n".
 * Status 2 (and a usage line on stderr) for a missing or unknown mode; 4 when a write fails.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#include <windows.h>
#else
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
extern char **environ;
#endif

static int usage(void) {
  fputs("usage: cp-testchild <mode> [args...] (see tests/helpers/testchild.c)\n", stderr);
  return 2;
}

static void put(FILE *f, const char *s, size_t n) {
  if (n && fwrite(s, 1, n, f) != n) exit(4);
}

static void puts_raw(const char *s) { put(stdout, s, strlen(s)); }

static long long num(const char *s) { return s ? strtoll(s, NULL, 10) : 0; }

static void sleep_ms(long long ms) {
#ifdef _WIN32
  Sleep((DWORD)ms);
#else
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
#endif
}

/* The pattern, 26 * 2048 bytes and one period more, so any offset's chunk starts at off % 26. */
static char pattern[26 * 2048 + 26];

static void write_pattern(FILE *f, long long off, long long n) {
  while (n > 0) {
    size_t start = (size_t)(off % 26);
    size_t k = sizeof pattern - 26;
    if ((long long)k > n) k = (size_t)n;
    put(f, pattern + start, k);
    off += (long long)k;
    n -= (long long)k;
  }
}

static void both(long long n) {
  const long long chunk = 4096;
  for (long long off = 0; off < n; off += chunk) {
    long long k = n - off < chunk ? n - off : chunk;
    write_pattern(stdout, off, k);
    if (fflush(stdout) != 0) exit(4);
    write_pattern(stderr, off, k);
    if (fflush(stderr) != 0) exit(4);
  }
}

static void cat(void) {
  static char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) put(stdout, buf, n);
}

static void print_hex_line(const char *s) {
  static const char digits[] = "0123456789abcdef";
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char h[2] = {digits[*p >> 4], digits[*p & 15]};
    put(stdout, h, 2);
  }
  put(stdout, "\n", 1);
}

#ifdef _WIN32

/* UTF-16 to WTF-8: like UTF-8, with a lone surrogate encoded on its own rather than replaced. */
static char *wtf8(const wchar_t *w) {
  size_t n = wcslen(w);
  char *s = malloc(n * 3 + 1), *o = s;
  if (!s) exit(4);
  for (size_t i = 0; i < n; i++) {
    unsigned long c = w[i];
    if (c >= 0xD800 && c <= 0xDBFF && i + 1 < n && w[i + 1] >= 0xDC00 && w[i + 1] <= 0xDFFF) {
      c = 0x10000 + ((c - 0xD800) << 10) + ((unsigned long)w[i + 1] - 0xDC00);
      i++;
    }
    if (c < 0x80) {
      *o++ = (char)c;
    } else if (c < 0x800) {
      *o++ = (char)(0xC0 | (c >> 6));
      *o++ = (char)(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      *o++ = (char)(0xE0 | (c >> 12));
      *o++ = (char)(0x80 | ((c >> 6) & 0x3F));
      *o++ = (char)(0x80 | (c & 0x3F));
    } else {
      *o++ = (char)(0xF0 | (c >> 18));
      *o++ = (char)(0x80 | ((c >> 12) & 0x3F));
      *o++ = (char)(0x80 | ((c >> 6) & 0x3F));
      *o++ = (char)(0x80 | (c & 0x3F));
    }
  }
  *o = '\0';
  return s;
}

static wchar_t *utf16(const char *s) {
  int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
  wchar_t *w = malloc((size_t)(n > 0 ? n : 1) * sizeof *w);
  if (!w) exit(4);
  w[0] = 0;
  if (n > 0) MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
  return w;
}

static int env_one(const char *name) {
  wchar_t *wname = utf16(name);
  SetLastError(0);
  DWORD n = GetEnvironmentVariableW(wname, NULL, 0);
  if (n == 0 && GetLastError() == ERROR_ENVVAR_NOT_FOUND) return 3;
  wchar_t *val = malloc((n + 1) * sizeof *val);
  if (!val) exit(4);
  val[0] = 0;
  if (n) GetEnvironmentVariableW(wname, val, n + 1);
  puts_raw(wtf8(val));
  return 0;
}

static int env_all(void) {
  wchar_t *block = GetEnvironmentStringsW();
  for (wchar_t *p = block; p && *p; p += wcslen(p) + 1) {
    puts_raw(wtf8(p));
    put(stdout, "\n", 1);
  }
  return 0;
}

static int print_cwd(void) {
  wchar_t buf[32768];
  DWORD n = GetCurrentDirectoryW(32768, buf);
  if (n == 0 || n >= 32768) return 4;
  puts_raw(wtf8(buf));
  return 0;
}

static int print_fds(void) { return 0; }

static int raise_signal(const char *sig) {
  (void)sig;
  fputs("signal: POSIX only\n", stderr);
  return 2;
}

static int ignore_term(long long ms) {
  puts_raw("ready\n");
  fflush(stdout);
  sleep_ms(ms);
  return 0;
}

static int sigstate(void) {
  puts_raw("blocked:\nignored:\n");
  return 0;
}

static int print_pid(void) {
  printf("%lu", (unsigned long)GetCurrentProcessId());
  return 0;
}

static int print_ids(void) {
  printf("%lu 0 0\n", (unsigned long)GetCurrentProcessId());
  return 0;
}

/* Ignores Ctrl-C from now on (so only whoever forwards it can end us), says "ready <pid>", sleeps. */
static int ignore_ctrlc_sleep(const char *ms) {
  if (!SetConsoleCtrlHandler(NULL, TRUE)) return 4;
  printf("ready %lu\n", (unsigned long)GetCurrentProcessId());
  fflush(stdout);
  Sleep((DWORD)strtoul(ms, NULL, 10));
  return 0;
}

/* How it was asked to show its window: "<STARTF_USESHOWWINDOW set: 0/1> <wShowWindow>". */
static int print_show(void) {
  STARTUPINFOW si;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  GetStartupInfoW(&si);
  printf("%d %u\n", (si.dwFlags & STARTF_USESHOWWINDOW) ? 1 : 0, (unsigned)si.wShowWindow);
  return 0;
}

/* A grandchild "<self> ARGS..." whose stdout/stderr are ours when `which` says so (else NUL). */
static int spawn_holder(const char *which, char **gargs) {
  wchar_t self[32768];
  DWORD n = GetModuleFileNameW(NULL, self, 32768);
  if (n == 0 || n >= 32768) return 4;
  size_t len = wcslen(self) + 8;
  for (char **a = gargs; *a; a++) len += strlen(*a) + 3;
  wchar_t *cmd = malloc(len * sizeof *cmd);
  if (!cmd) return 4;
  _snwprintf(cmd, len, L"\"%ls\"", self);
  cmd[len - 1] = 0;
  for (char **a = gargs; *a; a++) { /* plain words: no quoting needed */
    wchar_t *w = utf16(*a);
    wcscat(cmd, L" ");
    wcscat(cmd, w);
    free(w);
  }
  bool out = strcmp(which, "out") == 0 || strcmp(which, "both") == 0;
  bool err = strcmp(which, "err") == 0 || strcmp(which, "both") == 0;
  SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
  HANDLE nul = CreateFileW(L"NUL", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, &sa,
                           OPEN_EXISTING, 0, NULL);
  if (nul == INVALID_HANDLE_VALUE) return 4;
  HANDLE ho = GetStdHandle(STD_OUTPUT_HANDLE), he = GetStdHandle(STD_ERROR_HANDLE);
  SetHandleInformation(GetStdHandle(STD_INPUT_HANDLE), HANDLE_FLAG_INHERIT, 0);
  SetHandleInformation(ho, HANDLE_FLAG_INHERIT, out ? HANDLE_FLAG_INHERIT : 0);
  SetHandleInformation(he, HANDLE_FLAG_INHERIT, err ? HANDLE_FLAG_INHERIT : 0);
  STARTUPINFOW si;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = nul;
  si.hStdOutput = out ? ho : nul;
  si.hStdError = err ? he : nul;
  PROCESS_INFORMATION pi;
  BOOL ok = CreateProcessW(self, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi);
  free(cmd);
  if (!ok) return 4;
  printf("%lu\n", (unsigned long)pi.dwProcessId);
  return 0;
}

static int spawn_sleeper(const char *ms) {
  wchar_t self[32768];
  DWORD n = GetModuleFileNameW(NULL, self, 32768);
  if (n == 0 || n >= 32768) return 4;
  wchar_t *wms = utf16(ms);
  size_t len = wcslen(self) + wcslen(wms) + 16;
  wchar_t *cmd = malloc(len * sizeof *cmd);
  if (!cmd) return 4;
  _snwprintf(cmd, len, L"\"%ls\" sleep %ls", self, wms);
  cmd[len - 1] = 0;
  /* Our own stdio must not reach the grandchild: only the null device is inheritable. */
  static const DWORD stds[] = {STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, STD_ERROR_HANDLE};
  for (size_t i = 0; i < 3; i++) {
    HANDLE h = GetStdHandle(stds[i]);
    if (h && h != INVALID_HANDLE_VALUE) SetHandleInformation(h, HANDLE_FLAG_INHERIT, 0);
  }
  SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
  HANDLE nul = CreateFileW(L"NUL", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, &sa,
                           OPEN_EXISTING, 0, NULL);
  if (nul == INVALID_HANDLE_VALUE) return 4;
  STARTUPINFOW si;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = si.hStdOutput = si.hStdError = nul;
  PROCESS_INFORMATION pi;
  if (!CreateProcessW(self, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) return 4;
  printf("%lu\n", (unsigned long)pi.dwProcessId);
  return 0;
}

#else /* POSIX */

static int env_one(const char *name) {
  const char *v = getenv(name);
  if (!v) return 3;
  puts_raw(v);
  return 0;
}

static int env_all(void) {
  for (char **e = environ; *e; e++) {
    puts_raw(*e);
    put(stdout, "\n", 1);
  }
  return 0;
}

static int print_cwd(void) {
  char buf[PATH_MAX];
  if (!getcwd(buf, sizeof buf)) return 4;
  puts_raw(buf);
  return 0;
}

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

static int print_fds(void) {
  int fds[4096], n = 0;
  DIR *d = opendir("/proc/self/fd");
  if (d) {
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 4096) {
      if (e->d_name[0] == '.') continue;
      int fd = atoi(e->d_name);
      if (fd != self) fds[n++] = fd;
    }
    closedir(d);
  } else {
    for (int fd = 0; fd < 4096; fd++)
      if (fcntl(fd, F_GETFD) != -1) fds[n++] = fd;
  }
  qsort(fds, (size_t)n, sizeof fds[0], cmp_int);
  for (int i = 0; i < n; i++) printf("%d\n", fds[i]);
  return 0;
}

static int signal_number(const char *s) {
  static const struct {
    const char *name;
    int num;
  } table[] = {{"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"KILL", SIGKILL},
               {"TERM", SIGTERM}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"SEGV", SIGSEGV},
               {"ABRT", SIGABRT}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}};
  if (s[0] >= '0' && s[0] <= '9') return atoi(s);
  if (strncmp(s, "SIG", 3) == 0) s += 3;
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (strcmp(s, table[i].name) == 0) return table[i].num;
  return -1;
}

static int raise_signal(const char *sig) {
  int n = sig ? signal_number(sig) : -1;
  if (n <= 0) return usage();
  fflush(stdout);
  kill(getpid(), n);
  return 5;
}

static int ignore_term(long long ms) {
  signal(SIGTERM, SIG_IGN);
  puts_raw("ready\n");
  fflush(stdout);
  sleep_ms(ms);
  return 0;
}

static void print_sigset(const char *label, int (*pred)(int)) {
  puts_raw(label);
  const char *sep = "";
  for (int s = 1; s < NSIG; s++) {
    if (pred(s)) {
      printf("%s%d", sep, s);
      sep = ",";
    }
  }
  puts_raw("\n");
}

static int is_blocked(int s) {
  sigset_t cur;
  sigprocmask(SIG_BLOCK, NULL, &cur);
  return sigismember(&cur, s) == 1;
}

static int is_ignored(int s) {
  struct sigaction sa;
  return sigaction(s, NULL, &sa) == 0 && !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_IGN;
}

static int sigstate(void) {
  print_sigset("blocked:", is_blocked);
  print_sigset("ignored:", is_ignored);
  return 0;
}

static int print_pid(void) {
  printf("%ld", (long)getpid());
  return 0;
}

static int print_ids(void) {
  printf("%ld %ld %ld\n", (long)getpid(), (long)getpgid(0), (long)getsid(0));
  return 0;
}

static int print_show(void) { return usage(); } /* a Windows notion */
static int ignore_ctrlc_sleep(const char *ms) { (void)ms; return usage(); } /* a Windows notion */

/* A grandchild "<self> ARGS..." whose stdout/stderr are ours when `which` says so (else /dev/null). */
static int spawn_holder(const char *which, char **gargs) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return 4;
  self[n] = '\0';
  bool out = strcmp(which, "out") == 0 || strcmp(which, "both") == 0;
  bool err = strcmp(which, "err") == 0 || strcmp(which, "both") == 0;
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) return 4;
  if (pid == 0) {
    int nul = open("/dev/null", O_RDWR);
    if (nul < 0) _exit(4);
    dup2(nul, 0);
    if (!out) dup2(nul, 1);
    if (!err) dup2(nul, 2);
    if (nul > 2) close(nul);
    gargs[-1] = (char *)"cp-testchild";
    execv(self, gargs - 1);
    _exit(4);
  }
  printf("%ld\n", (long)pid);
  return 0;
}

static int spawn_sleeper(const char *ms) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return 4;
  self[n] = '\0';
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) return 4;
  if (pid == 0) {
    int nul = open("/dev/null", O_RDWR);
    if (nul < 0) _exit(4);
    dup2(nul, 0);
    dup2(nul, 1);
    dup2(nul, 2);
    if (nul > 2) close(nul);
    execl(self, "cp-testchild", "sleep", ms, (char *)NULL);
    _exit(4);
  }
  printf("%ld\n", (long)pid);
  return 0;
}

#endif

static int run(int argc, char **argv) {
  for (size_t i = 0; i < sizeof pattern; i++) pattern[i] = (char)('a' + (int)(i % 26));
  if (argc < 2) return usage();
  const char *mode = argv[1];
  const char *a = argc > 2 ? argv[2] : NULL;
  const char *b = argc > 3 ? argv[3] : NULL;

  if (strcmp(mode, "exit") == 0) return (int)num(a);
  if (strcmp(mode, "argv") == 0) {
    for (int i = 1; i < argc; i++) print_hex_line(argv[i]);
    return 0;
  }
  if (strcmp(mode, "argv0") == 0) {
    puts_raw(argv[0]);
    return 0;
  }
  if (strcmp(mode, "-c") == 0) {
    if (!a) return usage();
    puts_raw(a);
    return 0;
  }
  if (strcmp(mode, "env") == 0) return a ? env_one(a) : usage();
  if (strcmp(mode, "envall") == 0) return env_all();
  if (strcmp(mode, "cwd") == 0) return print_cwd();
  if (strcmp(mode, "cat") == 0) {
    cat();
    return 0;
  }
  if (strcmp(mode, "out") == 0) {
    write_pattern(stdout, 0, num(a));
    return 0;
  }
  if (strcmp(mode, "err") == 0) {
    write_pattern(stderr, 0, num(a));
    return 0;
  }
  if (strcmp(mode, "both") == 0) {
    both(num(a));
    return 0;
  }
  if (strcmp(mode, "fill-cat") == 0) {
    both(num(a));
    cat();
    return 0;
  }
  if (strcmp(mode, "sleep-err") == 0) {
    sleep_ms(num(a));
    write_pattern(stderr, 0, num(b));
    return fflush(stderr) != 0 ? 4 : 0;
  }
  if (strcmp(mode, "out-sleep") == 0 || strcmp(mode, "err-sleep") == 0) {
    FILE *f = mode[0] == 'o' ? stdout : stderr;
    write_pattern(f, 0, num(a));
    if (fflush(f) != 0) return 4;
    sleep_ms(num(b));
    return 0;
  }
  if (strcmp(mode, "sleep") == 0 || strcmp(mode, "noread-sleep") == 0) {
    sleep_ms(num(a));
    return 0;
  }
  if (strcmp(mode, "fds") == 0) return print_fds();
  if (strcmp(mode, "signal") == 0) return raise_signal(a);
  if (strcmp(mode, "ignore-term") == 0) return ignore_term(num(a));
  if (strcmp(mode, "sigstate") == 0) return sigstate();
  if (strcmp(mode, "pid") == 0) return print_pid();
  if (strcmp(mode, "spawn-sleeper") == 0) {
    if (!a) return usage();
    int rc = spawn_sleeper(a);
    if (rc == 0 && b) {
      if (fflush(stdout) != 0) return 4;
      sleep_ms(num(b));
    }
    return rc;
  }
  if (strcmp(mode, "hold") == 0) {
    if (argc < 5) return usage();
    long long wait = num(b);
    if (spawn_holder(a, argv + 4) || fflush(stdout) != 0) return 4;
    sleep_ms(wait);
    return 0;
  }
  if (strcmp(mode, "ready-sleep") == 0) {
    if (!a) return usage();
    printf("ready ");
    print_pid();
    if (b) {
      printf(" ");
      if (spawn_sleeper(a)) return 4; /* prints the grandchild's pid and "\n" */
    } else {
      printf("\n");
    }
    if (fflush(stdout) != 0) return 4;
    sleep_ms(num(a));
    return 0;
  }
  if (strcmp(mode, "ids") == 0) return print_ids();
  if (strcmp(mode, "show") == 0) return print_show();
  if (strcmp(mode, "ignore-ctrlc-sleep") == 0) return a ? ignore_ctrlc_sleep(a) : usage();
  return usage();
}

static int finish(int status) {
  if (fflush(stdout) != 0 || fflush(stderr) != 0) return status ? status : 4;
  return status;
}

#ifdef _WIN32
int wmain(int argc, wchar_t **wargv); /* the CRT's entry point with -municode */
int wmain(int argc, wchar_t **wargv) {
  _setmode(_fileno(stdin), _O_BINARY);
  _setmode(_fileno(stdout), _O_BINARY);
  _setmode(_fileno(stderr), _O_BINARY);
  char **argv = malloc(((size_t)argc + 1) * sizeof *argv);
  if (!argv) return 4;
  for (int i = 0; i < argc; i++) argv[i] = wtf8(wargv[i]);
  argv[argc] = NULL;
  return finish(run(argc, argv));
}
#else
int main(int argc, char **argv) { return finish(run(argc, argv)); }
#endif
