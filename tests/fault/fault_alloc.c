/* fault_alloc.c - the failing allocator behind -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc (see
 * fault_alloc.h). Counters are atomic: the library allocates on its spawner thread too. */
#include "fault_alloc.h"

#include <errno.h>
#if defined(__GLIBC__) || defined(__APPLE__)
#include <execinfo.h>
#define CP_FAULT_HAVE_BACKTRACE 1
#endif
#include <unistd.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);

static atomic_int mode;
static atomic_long count, failed, nth;

static bool fault_now(void) {
  int m = atomic_load(&mode);
  if (m == FAULT_OFF) return false;
  long k = atomic_fetch_add(&count, 1) + 1;
  long n = atomic_load(&nth);
  bool fail = m == FAULT_ONLY_NTH ? k == n : k >= n;
  if (fail) {
    atomic_fetch_add(&failed, 1);
#ifdef CP_FAULT_HAVE_BACKTRACE
    if (m == FAULT_ONLY_NTH && getenv("CP_FAULT_TRACE")) { /* where the failing allocation is made */
      void *frames[32];
      backtrace_symbols_fd(frames, backtrace(frames, 32), 2);
    }
#endif
    errno = ENOMEM;
  }
  return fail;
}

void *__wrap_malloc(size_t n) { return fault_now() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t k, size_t n) { return fault_now() ? NULL : __real_calloc(k, n); }
void *__wrap_realloc(void *p, size_t n) { return fault_now() ? NULL : __real_realloc(p, n); }

void fault_arm(fault_mode m, long n) {
  atomic_store(&mode, FAULT_OFF);
  atomic_store(&count, 0);
  atomic_store(&failed, 0);
  atomic_store(&nth, n);
  atomic_store(&mode, (int)m);
}

long fault_disarm(void) {
  atomic_store(&mode, FAULT_OFF);
  return atomic_load(&count);
}

long fault_failed(void) { return atomic_load(&failed); }

void fault_arm_from_env(void) {
  const char *s = getenv("CP_FAULT");
  if (!s) return;
  fault_mode m = strncmp(s, "only:", 5) == 0   ? FAULT_ONLY_NTH
                 : strncmp(s, "from:", 5) == 0 ? FAULT_FROM_NTH
                                               : FAULT_OFF;
  if (m != FAULT_OFF) fault_arm(m, strtol(s + 5, NULL, 10));
}
