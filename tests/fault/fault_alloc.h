/* fault_alloc.h - a failing allocator for the fault-injection suite: linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc, it makes the Nth allocation (or every allocation
 * from the Nth on) made while armed return NULL with errno ENOMEM. Only code linked into the
 * wrapped executable is affected (the library's static archive, the test, the tool), not libc's
 * own internal allocations. */
#ifndef FAULT_ALLOC_H
#define FAULT_ALLOC_H

#include <stdbool.h>

typedef enum fault_mode {
  FAULT_OFF = 0,
  FAULT_ONLY_NTH, /* only allocation number n fails */
  FAULT_FROM_NTH  /* allocation n and every later one fail */
} fault_mode;

/* Starts counting allocations from 0; allocation number n (1-based) is the first to fail. */
void fault_arm(fault_mode mode, long n);

/* Stops failing; returns how many allocations were made while armed. */
long fault_disarm(void);

/* How many allocations failed since the last fault_arm(). */
long fault_failed(void);

/* Arms from the environment: CP_FAULT="only:N" or "from:N" (used by the wrapped cprun). With
 * CP_FAULT_TRACE set, the failing allocation of mode "only" prints its backtrace on stderr. */
void fault_arm_from_env(void);

#endif
