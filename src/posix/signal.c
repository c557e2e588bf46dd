/* signal.c - this platform's signal names. */
#include "posix.h"

#include <signal.h>
#include <string.h>

typedef struct sig_entry {
  const char *name;
  int num;
} sig_entry;

static const sig_entry sigs[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"ILL", SIGILL},   {"TRAP", SIGTRAP},
    {"ABRT", SIGABRT},     {"BUS", SIGBUS},     {"FPE", SIGFPE},   {"KILL", SIGKILL}, {"USR1", SIGUSR1},
    {"SEGV", SIGSEGV},     {"USR2", SIGUSR2},   {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM},
    {"CHLD", SIGCHLD},     {"CONT", SIGCONT},   {"STOP", SIGSTOP}, {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
    {"TTOU", SIGTTOU},     {"URG", SIGURG},     {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM},
    {"PROF", SIGPROF},     {"WINCH", SIGWINCH}, {"IO", SIGIO},     {"SYS", SIGSYS},
#ifdef SIGPWR
    {"PWR", SIGPWR},
#endif
#ifdef SIGSTKFLT
    {"STKFLT", SIGSTKFLT},
#endif
};

const char *os_signal_name(int signum) {
  static const char *const full[] = {
#define X(n) "SIG" n
      X("HUP"),    X("INT"),  X("QUIT"),  X("ILL"),  X("TRAP"), X("ABRT"), X("BUS"),  X("FPE"),
      X("KILL"),   X("USR1"), X("SEGV"),  X("USR2"), X("PIPE"), X("ALRM"), X("TERM"), X("CHLD"),
      X("CONT"),   X("STOP"), X("TSTP"),  X("TTIN"), X("TTOU"), X("URG"),  X("XCPU"), X("XFSZ"),
      X("VTALRM"), X("PROF"), X("WINCH"), X("IO"),   X("SYS"),
#ifdef SIGPWR
      X("PWR"),
#endif
#ifdef SIGSTKFLT
      X("STKFLT"),
#endif
#undef X
  };
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    if (sigs[i].num == signum) return full[i];
  return NULL;
}

int os_signal_number(const char *name) {
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    if (strcmp(sigs[i].name, name) == 0) return sigs[i].num;
  return CP_EINVAL;
}
