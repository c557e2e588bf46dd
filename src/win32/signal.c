/* signal.c - this platform's signal names: the five portable ones, each of which terminates the
 * child on Windows (os_proc_kill). */
#include "win32.h"

#include <string.h>

typedef struct sig_entry {
  const char *name; /* with the SIG prefix */
  int num;
} sig_entry;

static const sig_entry sigs[] = {
    {"SIGHUP", CP_SIGHUP},   {"SIGINT", CP_SIGINT},   {"SIGQUIT", CP_SIGQUIT},
    {"SIGKILL", CP_SIGKILL}, {"SIGTERM", CP_SIGTERM},
};

const char *os_signal_name(int signum) {
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    if (sigs[i].num == signum) return sigs[i].name;
  return NULL;
}

int os_signal_number(const char *name) {
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    if (strcmp(sigs[i].name + 3, name) == 0) return sigs[i].num;
  return CP_EINVAL;
}
