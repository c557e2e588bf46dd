/* A program outside the project that uses an installed (or embedded) childproc. */
#include <childproc.h>

#include <stdio.h>
#include <string.h>

int main(void) {
  cp_result r;
  int rc = cp_exec_sync("echo consumer-ok", NULL, &r);
  int ok = rc == 0 && strstr(r.out.data, "consumer-ok") != NULL;
  printf("childproc %s: %s\n", cp_version(), ok ? "consumer-ok" : r.error.message);
  cp_result_free(&r);
  return ok ? 0 : 1;
}
