/* ipc-echo - a childproc program that talks to its parent over the message channel.
 *
 * Started by a Node parent with stdio ['inherit', 'inherit', 'inherit', 'ipc'] (or by cp_fork()),
 * it answers every message with {"echo":<the message as received>,"pid":<its pid>} and exits 0 when
 * the parent disconnects. Run without a channel, it says so and exits 2.
 *
 *   node -e "const c = require('child_process').spawn('./ipc-echo', [], {stdio: ['inherit', 'inherit',
 *            'inherit', 'ipc']}); c.on('message', m => { console.log(m); c.disconnect(); });
 *            c.send({hello: 'world'});"
 */
#include <childproc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <windows.h>
#define self_pid() ((long long)GetCurrentProcessId())
#else
#include <unistd.h>
#define self_pid() ((long long)getpid())
#endif

static void on_message(cp_channel *ch, const char *msg, size_t len, void *ud) {
  (void)ud;
  char tail[64];
  int tn = snprintf(tail, sizeof tail, ",\"pid\":%lld}", self_pid());
  char *reply = malloc(len + (size_t)tn + 9);
  if (!reply) return;
  memcpy(reply, "{\"echo\":", 8);
  memcpy(reply + 8, msg, len); /* the message is already JSON text: echo it as received */
  memcpy(reply + 8 + len, tail, (size_t)tn);
  int rc = cp_channel_send(ch, reply, 8 + len + (size_t)tn, NULL, NULL);
  if (rc) fprintf(stderr, "ipc-echo: send: %s\n", cp_strerror(rc));
  free(reply);
}

static void on_error(cp_channel *ch, const cp_error *err, void *ud) {
  (void)ch;
  (void)ud;
  fprintf(stderr, "ipc-echo: %s\n", err->message);
}

int main(void) {
  cp_loop *loop;
  if (cp_loop_new(&loop)) return 1;
  cp_channel_events ev = {.on_message = on_message, .on_error = on_error};
  cp_channel *ch;
  int rc = cp_channel_open_parent(loop, &ev, NULL, &ch);
  if (rc) {
    fprintf(stderr, "ipc-echo: no channel to a parent (%s): start me with an 'ipc' stdio\n", cp_strerror(rc));
    cp_loop_free(loop);
    return 2;
  }
  /* Runs until the parent disconnects: an open channel keeps the loop alive. */
  rc = cp_loop_run(loop, CP_RUN_DEFAULT);
  cp_channel_free(ch);
  cp_loop_free(loop);
  return rc < 0 ? 1 : 0;
}
