/* fuzz_options.c - libFuzzer target for the options checking: arbitrary option values, strings and
 * string lists go through cp__prepare() (what every spawn form runs first), and signal names through
 * cp_signal_from_name(). Nothing may crash or leak, and a refusal must come with a message. */
#include <childproc.h>

#include "internal.h"
#include "prepare.h"

#include <stdlib.h>
#include <string.h>

typedef struct reader {
  const uint8_t *p;
  size_t n;
} reader;

static uint64_t take(reader *r, size_t bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes && r->n; i++, r->p++, r->n--) v = v << 8 | *r->p;
  return v;
}

/* A NUL-terminated string of up to 40 bytes from the input (NULL when the length byte says so). */
static char *take_string(reader *r, char *buf) {
  uint64_t len = take(r, 1);
  if (len == 255) return NULL;
  len %= 41;
  size_t i = 0;
  for (; i < len && r->n; i++) buf[i] = (char)take(r, 1);
  buf[i] = '\0';
  return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  reader r = {data, size};
  char file[48], cwd[48], argv0[48], shell[48], cmd[48], sig[48];
  char argbuf[4][48], envbuf[4][48];
  const char *args[5] = {0}, *env[5] = {0};
  for (int i = 0; i < 4; i++) args[i] = take_string(&r, argbuf[i]) ? argbuf[i] : "";
  for (int i = 0; i < 4; i++) env[i] = take_string(&r, envbuf[i]) ? envbuf[i] : "X=1";
  cp_options o;
  memset(&o, 0, sizeof o);
  o.cwd = take_string(&r, cwd);
  o.argv0 = take_string(&r, argv0);
  o.shell = take_string(&r, shell);
  o.env_mode = (cp_env_mode)(int)take(&r, 1);
  o.env = take(&r, 1) & 1 ? env : NULL;
  for (int i = 0; i < 3; i++) {
    o.stdio[i].kind = (cp_stdio_kind)(int)(take(&r, 1) % 7);
    o.stdio[i].fd = (int)take(&r, 1) - 1;
  }
  o.timeout_ms = (int64_t)take(&r, 8);
  o.kill_after_ms = (int64_t)take(&r, 8);
  o.kill_signal = (int)(int8_t)take(&r, 1);
  o.max_buffer = (size_t)take(&r, 8);
  o.channel = (cp_channel_mode)(int)(take(&r, 1) % 5);
  o.channel_fd = (int)(int16_t)take(&r, 2);
  o.detached = take(&r, 1) & 1;
  o.kill_tree = take(&r, 1) & 1;
  o.silent = take(&r, 1) & 1;
  static const char input[] = "input";
  if (take(&r, 1) & 1) {
    o.input = input;
    o.input_len = sizeof input;
  }
  const char *command = take(&r, 1) & 1 ? take_string(&r, cmd) : NULL;
  const char *f = take_string(&r, file);

  cp__prepared p;
  cp_error err;
  memset(&err, 0, sizeof err);
  int rc = cp__prepare(&p, command ? NULL : f, command ? NULL : args, command, &o, NULL, &err);
  if (rc != 0 && (rc != err.code || err.message[0] == '\0')) abort();
  if (rc == 0 && (!p.req.argv || !p.req.argv[0] || !p.req.envp || !p.req.file)) abort();
  cp__prepared_free(&p);
  cp__error_clear(&err);

  int s = cp_signal_from_name(take_string(&r, sig));
  if (s != CP_EINVAL && (s <= 0 || !cp_signal_name(s))) abort();
  return 0;
}
