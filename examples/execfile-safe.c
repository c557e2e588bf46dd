/* execfile-safe - why execFile (no shell) is immune to shell injection, and exec is not.
 *
 * Node's guides warn never to build an exec() command line from untrusted input:
 *
 *   exec(`show ${filename}`)           // filename "x; rm -rf ~" runs rm through the shell
 *   execFile('show', [filename])       // filename arrives as one argument, byte for byte
 *
 * This example gets a hostile "file name" and passes it both ways to a harmless program that only
 * prints its arguments, one per line in brackets: this same executable, run with --print-args (so
 * it works the same everywhere). The injected command is a harmless `echo INJECTED`:
 *   - cp_exec_sync(): the shell splits the line at ';' (cmd.exe: '&') and also runs the echo;
 *   - cp_exec_file_sync(): no shell; the name is one argument, unchanged.
 * On Windows the library quotes each argument for the child's command-line parser (and refuses what
 * cannot be passed safely to a .bat/.cmd), so the same holds there.
 *
 * Exits 0 when the shell run shows the injection and the execFile run does not.
 */
#include <childproc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#define HOSTILE_NAME "x & echo INJECTED"
#else
#define HOSTILE_NAME "x; echo INJECTED"
#endif

/* The path of this executable, so it can run itself as the harmless "show" program. */
static const char *self_path(const char *argv0) {
#ifdef _WIN32
  static char path[MAX_PATH * 3];
  wchar_t w[MAX_PATH];
  DWORD n = GetModuleFileNameW(NULL, w, MAX_PATH);
  if (n == 0 || n == MAX_PATH || !WideCharToMultiByte(CP_UTF8, 0, w, -1, path, sizeof path, NULL, NULL))
    return argv0;
  return path;
#else
  return argv0; /* found again the way this process was found: a path, or a PATH search */
#endif
}

/* Whether text has a line that is exactly `line` (a trailing '\r' from cmd.exe is ignored). */
static bool has_line(const char *text, const char *line) {
  size_t n = strlen(line);
  for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
    if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\r' || p[n] == '\0')) return true;
  return false;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "--print-args") == 0) {
    for (int i = 2; i < argc; i++) printf("[%s]\n", argv[i]);
    return 0;
  }
  const char *self = self_path(argv[0]);
  const char *filename = HOSTILE_NAME;
  printf("untrusted file name: \"%s\"\n", filename);

  /* 1. exec: the name pasted into a command line that a shell parses. */
  size_t len = strlen(self) + strlen(filename) + 32;
  char *command = malloc(len);
  if (!command) return 1;
  snprintf(command, len, "\"%s\" --print-args %s", self, filename);
  cp_result shell_res;
  int shell_rc = cp_exec_sync(command, NULL, &shell_res);
  printf("\n1. exec (through the shell): %s\n", command);
  if (shell_rc) printf("   error: %s\n", shell_res.error.message);
  printf("   the program saw, and the shell ran:\n%s", shell_res.out.data);
  bool injected = shell_rc == 0 && has_line(shell_res.out.data, "INJECTED");
  printf("   => %s\n", injected ? "INJECTED: the shell ran the second command" : "no injection (unexpected)");

  /* 2. execFile: the name is one element of argv; no shell ever sees it. */
  const char *args[] = {"--print-args", filename, NULL};
  cp_result file_res;
  int file_rc = cp_exec_file_sync(self, args, NULL, &file_res);
  printf("\n2. execFile (no shell): %s [--print-args] [%s]\n", self, filename);
  if (file_rc) printf("   error: %s\n", file_res.error.message);
  printf("   the program saw:\n%s", file_res.out.data);
  char expected[128];
  snprintf(expected, sizeof expected, "[%s]", filename);
  bool literal =
      file_rc == 0 && has_line(file_res.out.data, expected) && !has_line(file_res.out.data, "INJECTED");
  printf("   => %s\n", literal ? "safe: one argument, byte for byte" : "NOT literal (unexpected)");

  cp_result_free(&shell_res);
  cp_result_free(&file_res);
  free(command);
  bool ok = injected && literal;
  printf("\nexecfile-safe: %s\n", ok ? "execFile passed the hostile name literally" : "UNEXPECTED OUTCOME");
  return ok ? 0 : 1;
}
