/* fault_channel.c - the fault sweeps' shared channel workers and echo scenario (fault_channel.h). */
#include "fault_channel.h"

#include "cptest.h"

#include <string.h>

static void echo_serve(cp_request *req, const char *msg, size_t len, void *ud) {
  (void)msg, (void)len, (void)ud;
  cp_request_reply(req, "\"pong\"", 6);
}

static int worker_serve(cp_loop *loop, cp_channel *ch, int argc, char **argv, void *ud) {
  (void)loop, (void)argc, (void)argv, (void)ud;
  return cp_channel_serve(ch, echo_serve, NULL) ? 1 : 0;
}

const cp_worker_def fault_workers[2] = {
    {"echo", cptest_worker_echo, NULL},
    {"serve", worker_serve, NULL},
};

static void record(fault_echo *s, int code) {
  if (!s->error) s->error = code;
}

static void echo_on_spawn(cp_child *c, void *ud) {
  fault_echo *s = ud;
  s->spawned = true;
  cp_channel *ch = cp_child_channel(c);
  if (!ch) {
    s->no_channel = true;
    cp_child_kill(c, CP_SIGKILL);
    return;
  }
  int rc = cp_channel_send(ch, s->msg, s->len, NULL, NULL);
  if (rc) {
    record(s, rc);
    cp_channel_disconnect(ch);
  }
}

static void echo_on_message(cp_child *c, const char *msg, size_t len, void *ud) {
  fault_echo *s = ud;
  s->echoed = len == s->len && memcmp(msg, s->msg, len) == 0;
  cp_channel *ch = cp_child_channel(c);
  if (ch) cp_channel_disconnect(ch);
}

void fault_echo_on_error(cp_child *c, const cp_error *err, void *ud) {
  (void)c;
  record(ud, err->code);
}

void fault_echo_on_close(cp_child *c, int64_t status, int sig, void *ud) {
  (void)c, (void)status, (void)sig;
  ((fault_echo *)ud)->closed = true;
}

const cp_child_events fault_echo_events = {.on_spawn = echo_on_spawn,
                                           .on_message = echo_on_message,
                                           .on_error = fault_echo_on_error,
                                           .on_close = fault_echo_on_close};
