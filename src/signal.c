/* signal.c - signal names and parsing on top of the platform's table. */
#include "internal.h"
#include "os.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

const char *cp_signal_name(int signum) { return signum > 0 ? os_signal_name(signum) : NULL; }

int cp_signal_from_name(const char *name) {
  if (!name || !*name) return CP_EINVAL;
  if (isdigit((unsigned char)name[0])) {
    char *end;
    long v = strtol(name, &end, 10);
    if (*end || v <= 0 || v > 128 || !os_signal_name((int)v)) return CP_EINVAL;
    return (int)v;
  }
  char up[32];
  size_t n = strlen(name);
  if (n >= sizeof up) return CP_EINVAL;
  for (size_t i = 0; i <= n; i++) up[i] = (char)toupper((unsigned char)name[i]);
  const char *bare = strncmp(up, "SIG", 3) == 0 ? up + 3 : up;
  return os_signal_number(bare);
}
