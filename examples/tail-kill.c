/* tail-kill - a long-running child (tail -f) that never ends by itself, killed after a while.
 *
 * Node's guides start `tail -f` and kill it later, or give execSync/spawnSync a `timeout`:
 *
 *   const r = spawnSync('tail', ['-f', file], { timeout: 1000 });   // killSignal: 'SIGTERM'
 *   // r.error.code === 'ETIMEDOUT', r.signal === 'SIGTERM', r.stdout holds what it printed
 *
 * The same with cp_spawn_sync() and options.timeout_ms: the library kills the child with
 * options.kill_signal (SIGTERM by default) when the time is up, waits for it, and returns
 * CP_ETIMEDOUT with res.timed_out set, the signal that ended the child and everything it printed
 * until then. The file followed is one this example creates and removes.
 *
 * On Windows the follower is PowerShell's `Get-Content -Wait`, the tail -f of that platform.
 * Exits 0 when the child was killed by the timeout after printing the file.
 */
#include <childproc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <unistd.h>
#endif

#define TIMEOUT_MS 1000

static const char file_text[] = "line 1: started\nline 2: working\nline 3: still working\n";

/* Creates a new temporary file holding file_text; its path goes to path[size]. Returns 0 or -1. */
static int make_followed_file(char *path, size_t size) {
#ifdef _WIN32
  char dir[MAX_PATH];
  DWORD n = GetTempPathA(sizeof dir, dir);
  if (n == 0 || n >= sizeof dir || size < MAX_PATH || !GetTempFileNameA(dir, "cpt", 0, path)) return -1;
  FILE *f = fopen(path, "wb");
#else
  const char *tmp = getenv("TMPDIR");
  if (snprintf(path, size, "%s/tail-kill-XXXXXX", tmp && *tmp ? tmp : "/tmp") >= (int)size) return -1;
  int fd = mkstemp(path);
  FILE *f = fd < 0 ? NULL : fdopen(fd, "wb");
  if (!f && fd >= 0) close(fd);
#endif
  if (!f) return -1;
  bool ok = fwrite(file_text, 1, sizeof file_text - 1, f) == sizeof file_text - 1;
  if (fclose(f) != 0) ok = false;
  if (!ok) remove(path);
  return ok ? 0 : -1;
}

int main(void) {
  char path[4096];
  if (make_followed_file(path, sizeof path) != 0) {
    fprintf(stderr, "tail-kill: cannot create a temporary file\n");
    return 1;
  }
#ifdef _WIN32
  const char *file = "powershell";
  const char *args[] = {"-NoProfile", "-Command", "Get-Content", "-Wait", "-Path", path, NULL};
#else
  const char *file = "tail";
  const char *args[] = {"-f", path, NULL};
#endif
  cp_options opts = {.timeout_ms = TIMEOUT_MS, .kill_signal = CP_SIGTERM};
  cp_result res;
  printf("$ %s %s %s   (killed after %d ms)\n", file, args[0], path, TIMEOUT_MS);
  int rc = cp_spawn_sync(file, args, &opts, &res);

  printf("what it printed before the kill:\n%s", res.out.data);
  printf("rc: %s\n", rc ? cp_err_name(rc) : "0");
  printf("timed_out: %s\n", res.timed_out ? "true" : "false");
  printf("signal: %s\n", res.signal ? cp_signal_name(res.signal) : "none");
  printf("status: %lld\n", (long long)res.status);
  if (rc) printf("error: %s\n", res.error.message);

  bool ok = rc == CP_ETIMEDOUT && res.timed_out && strstr(res.out.data, "line 3") != NULL;
  cp_result_free(&res);
  remove(path);
  printf("tail-kill: %s\n", ok ? "the child was killed by the timeout, as expected" : "UNEXPECTED OUTCOME");
  return ok ? 0 : 1;
}
