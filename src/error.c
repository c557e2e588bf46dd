/* error.c - error codes, their names and messages, and the cp_error helpers. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct err_entry {
  int code;
  const char *name;
  const char *text;
} err_entry;

static const err_entry err_table[] = {
    {CP_OK, "OK", "success"},
    {CP_EINVAL, "EINVAL", "invalid argument"},
    {CP_ENOENT, "ENOENT", "no such file or directory"},
    {CP_EACCES, "EACCES", "permission denied"},
    {CP_ENOTDIR, "ENOTDIR", "not a directory"},
    {CP_ENOEXEC, "ENOEXEC", "exec format error"},
    {CP_ENOMEM, "ENOMEM", "not enough memory"},
    {CP_E2BIG, "E2BIG", "argument list too long"},
    {CP_EMFILE, "EMFILE", "too many open files"},
    {CP_EPERM, "EPERM", "operation not permitted"},
    {CP_ESRCH, "ESRCH", "no such process"},
    {CP_ETIMEDOUT, "ETIMEDOUT", "timed out"},
    {CP_ENOBUFS, "ENOBUFS", "maxBuffer length exceeded"},
    {CP_EPIPE, "EPIPE", "broken pipe"},
    {CP_EAGAIN, "EAGAIN", "resource temporarily unavailable"},
    {CP_ENOTSUP, "ENOTSUP", "operation not supported on this platform"},
    {CP_EIO, "EIO", "i/o error"},
    {CP_ENAMETOOLONG, "ENAMETOOLONG", "name too long"},
    {CP_ELOOP, "ELOOP", "too many symbolic links encountered"},
    {CP_EBADF, "EBADF", "bad file descriptor"},
    {CP_ECANCELED, "ECANCELED", "operation canceled"},
    {CP_ECHILDFAILED, "ECHILDFAILED", "command failed"},
    {CP_EUNKNOWN, "UNKNOWN", "unknown error"},
    {CP_EPROTO, "EPROTO", "protocol error"},
};

static const err_entry *err_find(int code) {
  for (size_t i = 0; i < sizeof err_table / sizeof err_table[0]; i++)
    if (err_table[i].code == code) return &err_table[i];
  return NULL;
}

const char *cp_strerror(int code) {
  const err_entry *e = err_find(code);
  return e ? e->text : "unknown error";
}

const char *cp_err_name(int code) {
  const err_entry *e = err_find(code);
  return e ? e->name : "UNKNOWN";
}

const char *cp_version(void) { return CHILDPROC_VERSION_STRING; }

char *cp__strdup(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static int error_fill(cp_error *err, int code, int os_error, const char *syscall, const char *path) {
  free(err->path);
  err->code = code;
  err->os_error = os_error;
  err->syscall = syscall;
  err->path = cp__strdup(path); /* NULL on OOM too: the message still names it */
  return code;
}

int cp__error_set(cp_error *err, int code, int os_error, const char *syscall, const char *path) {
  if (!err) return code;
  error_fill(err, code, os_error, syscall, path);
  /* "<syscall> <path> <NAME>: <text>". A path too long for the message gives up its beginning
   * ("..." and its end kept): the step, the name and the text always fit whole. err->path has it all. */
  char tail[96];
  snprintf(tail, sizeof tail, " %s: %s", cp_err_name(code), cp_strerror(code));
  const char *sc = syscall ? syscall : "childproc";
  size_t fixed = strlen(sc) + 1 + strlen(tail), plen = path ? strlen(path) : 0;
  size_t room = sizeof err->message - 1 > fixed ? sizeof err->message - 1 - fixed : 0;
  if (path && plen > room && room > 3)
    snprintf(err->message, sizeof err->message, "%s ...%s%s", sc, path + plen - (room - 3), tail);
  else
    snprintf(err->message, sizeof err->message, "%s%s%s%s", sc, path ? " " : "", path ? path : "", tail);
  return code;
}

int cp__error_setf(cp_error *err, int code, int os_error, const char *syscall, const char *path,
                   const char *fmt, ...) {
  if (!err) return code;
  error_fill(err, code, os_error, syscall, path);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  return code;
}

void cp__error_clear(cp_error *err) {
  if (!err) return;
  free(err->path);
  memset(err, 0, sizeof *err);
}
