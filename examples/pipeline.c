/* pipeline - Node's "find . -type f | wc -l" with the blocking API: one child's output becomes the
 * next one's input.
 *
 * The Node guide joins two spawned children with a stream pipe:
 *
 *   const find = spawn('find', ['.', '-type', 'f']);
 *   const wc = spawn('wc', ['-l']);
 *   find.stdout.pipe(wc.stdin);
 *   wc.stdout.on('data', (data) => console.log(`Number of files ${data}`));
 *
 * With the sync forms the two run one after the other: find's stdout is captured whole (max_buffer
 * unlimited, so a big tree is never cut short) and handed to wc as options.input, the sync
 * equivalent of spawnSync('wc', ['-l'], { input: find.stdout }). That holds all of find's output in
 * memory at once; the streaming version, with both children running at once and back-pressure
 * between them, is pipeline-async.c (cp_spawn on a cp_loop).
 *
 * Usage: pipeline [DIR]   (default: the current directory). Exits 0 when both children exit 0.
 * On Windows the pair is "dir /s /b /a-d" (a cmd.exe builtin, through the shell) and
 * find /c /v "" (which counts lines).
 */
#include <childproc.h>

#include <stdio.h>
#include <string.h>

/* Prints how a stage failed (if it did). Returns whether it succeeded. */
static bool stage_ok(const char *name, int rc, const cp_result *res) {
  if (rc == 0) return true;
  fprintf(stderr, "pipeline: %s: %s\n", name, res->error.message);
  if (res->err.len) fprintf(stderr, "pipeline: %s said: %s", name, res->err.data);
  return false;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : ".";
#ifdef _WIN32
  const char *list_command = "dir /s /b /a-d";
  const char *count_file = "find";
  const char *const count_args[] = {"/c", "/v", "", NULL}; /* "" matches no line: /v counts them all */
#else
  const char *list_command = "find . -type f";
  const char *count_file = "wc";
  const char *const count_args[] = {"-l", NULL};
#endif
  printf("$ cd %s && %s | %s %s\n", dir, list_command, count_file, count_args[0]);

  /* Stage 1: list the files, keeping all of the output however long it is. */
  cp_options list_opts = {.cwd = dir, .max_buffer = CP_MAX_BUFFER_UNLIMITED};
  list_opts.stdio[2].kind = CP_STDIO_INHERIT; /* "permission denied" lines go straight to our stderr */
  cp_result list;
  int rc = cp_exec_sync(list_command, &list_opts, &list);
  bool ok = stage_ok("list", rc, &list);

  /* Stage 2: count them, with stage 1's output as stdin. */
  cp_result count = {0};
  if (ok) {
    cp_options count_opts = {.input = list.out.data, .input_len = list.out.len};
    rc = cp_exec_file_sync(count_file, count_args, &count_opts, &count);
    ok = stage_ok("count", rc, &count);
  }
  if (ok) {
    const char *n = count.out.data + strspn(count.out.data, " \t");
    printf("Number of files: %.*s\n", (int)strcspn(n, "\r\n"), n);
    printf("(%zu bytes of file names went from the first child to the second)\n", list.out.len);
  }
  cp_result_free(&list);
  cp_result_free(&count);
  return ok ? 0 : 1;
}
