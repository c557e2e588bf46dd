/* fault_channel.h - what the two fault sweeps (test_fault_alloc: allocations, test_fault_sys: system
 * calls) share for their channel scenarios: the workers, and a parent that sends one message to the
 * "echo" worker and checks it comes back. The outcome is recorded here and judged by each suite. */
#ifndef FAULT_CHANNEL_H
#define FAULT_CHANNEL_H

#include <childproc.h>

#include <stdbool.h>
#include <stddef.h>

/* "echo": every message back; "serve": every request answered "pong". */
extern const cp_worker_def fault_workers[2];

/* One message there and back: set msg/len, start the "echo" worker with fault_echo_events and the
 * state as ud. */
typedef struct fault_echo {
  cp_child *c;
  const char *msg;
  size_t len;
  int error; /* the first code reported by a send or on_error */
  bool spawned, echoed, closed, no_channel;
} fault_echo;

/* on_spawn sends msg (no channel: the child is killed and no_channel set), on_message checks the echo
 * and disconnects, on_error records the first code, on_close notes the end. */
extern const cp_child_events fault_echo_events;

/* For states that start with a fault_echo (first member) and add their own events. */
void fault_echo_on_error(cp_child *c, const cp_error *err, void *ud);
void fault_echo_on_close(cp_child *c, int64_t status, int sig, void *ud);

#endif
