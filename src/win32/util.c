/* util.c - UTF-8 <-> UTF-16 at the system-call boundary, and Windows errors as CP_E* codes. */
#include "win32.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#ifndef ERROR_ELEVATION_REQUIRED
#define ERROR_ELEVATION_REQUIRED 740L
#endif

wchar_t *win32_utf16(const char *s, int *rc) {
  int dummy;
  if (!rc) rc = &dummy;
  *rc = 0;
  if (!s) {
    *rc = CP_EINVAL;
    return NULL;
  }
  size_t len = strlen(s);
  if (len >= (size_t)INT_MAX) {
    *rc = CP_ENAMETOOLONG;
    return NULL;
  }
  int n = 0;
  if (len) {
    n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, (int)len, NULL, 0);
    if (n <= 0) {
      *rc = CP_EINVAL; /* not UTF-8 */
      return NULL;
    }
  }
  wchar_t *w = malloc(((size_t)n + 1) * sizeof *w);
  if (!w) {
    *rc = CP_ENOMEM;
    return NULL;
  }
  if (n) MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, (int)len, w, n);
  w[n] = L'\0';
  return w;
}

char *win32_utf8(const wchar_t *w, int n) {
  if (n < 0) n = (int)wcslen(w);
  int len = 0;
  if (n) {
    len = WideCharToMultiByte(CP_UTF8, 0, w, n, NULL, 0, NULL, NULL);
    if (len <= 0) return NULL;
  }
  char *s = malloc((size_t)len + 1);
  if (!s) return NULL;
  if (len) WideCharToMultiByte(CP_UTF8, 0, w, n, s, len, NULL, NULL);
  s[len] = '\0';
  return s;
}

int win32_error(DWORD e) {
  switch (e) {
  case ERROR_SUCCESS:
    return 0;
  case ERROR_FILE_NOT_FOUND:
  case ERROR_PATH_NOT_FOUND:
  case ERROR_INVALID_DRIVE:
  case ERROR_BAD_NETPATH:
  case ERROR_BAD_NET_NAME:
  case ERROR_MOD_NOT_FOUND:
  case ERROR_INVALID_NAME:
  case ERROR_BAD_PATHNAME:
  case ERROR_DEV_NOT_EXIST:
    return CP_ENOENT;
  case ERROR_ACCESS_DENIED:
  case ERROR_SHARING_VIOLATION:
  case ERROR_LOCK_VIOLATION:
  case ERROR_ELEVATION_REQUIRED:
  case ERROR_INVALID_ACCESS:
  case ERROR_CANT_ACCESS_FILE:
    return CP_EACCES;
  case ERROR_DIRECTORY:
    return CP_ENOTDIR;
  case ERROR_BAD_EXE_FORMAT:
  case ERROR_EXE_MACHINE_TYPE_MISMATCH:
  case ERROR_BAD_FORMAT:
  case ERROR_EXE_MARKED_INVALID:
  case ERROR_INVALID_EXE_SIGNATURE:
  case ERROR_INVALID_ORDINAL:
    return CP_ENOEXEC;
  case ERROR_NOT_ENOUGH_MEMORY:
  case ERROR_OUTOFMEMORY:
  case ERROR_COMMITMENT_LIMIT:
  case ERROR_NOT_ENOUGH_QUOTA:
  case ERROR_NO_SYSTEM_RESOURCES:
    return CP_ENOMEM;
  case ERROR_FILENAME_EXCED_RANGE:
  case ERROR_BUFFER_OVERFLOW:
    return CP_ENAMETOOLONG;
  case ERROR_TOO_MANY_OPEN_FILES:
    return CP_EMFILE;
  case ERROR_PRIVILEGE_NOT_HELD:
    return CP_EPERM;
  case ERROR_BROKEN_PIPE:
  case ERROR_NO_DATA:
  case ERROR_PIPE_NOT_CONNECTED:
    return CP_EPIPE;
  case ERROR_INVALID_HANDLE:
    return CP_EBADF;
  case ERROR_OPERATION_ABORTED:
  case ERROR_CANCELLED:
    return CP_ECANCELED;
  case ERROR_INVALID_PARAMETER:
  case ERROR_INVALID_FUNCTION:
  case ERROR_INVALID_FLAGS:
    return CP_EINVAL;
  case ERROR_NOT_SUPPORTED:
  case ERROR_CALL_NOT_IMPLEMENTED:
    return CP_ENOTSUP;
  case ERROR_SEM_TIMEOUT:
  case WAIT_TIMEOUT:
    return CP_ETIMEDOUT;
  case ERROR_CANT_RESOLVE_FILENAME:
    return CP_ELOOP;
  case ERROR_BUSY:
  case ERROR_PIPE_BUSY:
  case ERROR_MAX_THRDS_REACHED:
    return CP_EAGAIN;
  case ERROR_NOACCESS:
  case ERROR_CRC:
  case ERROR_IO_DEVICE:
  case ERROR_HANDLE_EOF:
    return CP_EIO;
  case ERROR_FILE_TOO_LARGE:
    return CP_E2BIG;
  default:
    return CP_EUNKNOWN;
  }
}
