/* error.c - errno values as CP_E* codes. */
#include "posix.h"

#include <errno.h>

int posix_error(int e) {
  switch (e) {
  case 0:
    return 0;
  case EINVAL:
    return CP_EINVAL;
  case ENOENT:
    return CP_ENOENT;
  case EACCES:
    return CP_EACCES;
  case ENOTDIR:
    return CP_ENOTDIR;
  case ENOEXEC:
    return CP_ENOEXEC;
  case ENOMEM:
    return CP_ENOMEM;
  case E2BIG:
    return CP_E2BIG;
  case EMFILE:
  case ENFILE:
    return CP_EMFILE;
  case EPERM:
    return CP_EPERM;
  case ESRCH:
    return CP_ESRCH;
  case ETIMEDOUT:
    return CP_ETIMEDOUT;
  case ENOBUFS:
    return CP_ENOBUFS;
  case EPIPE:
    return CP_EPIPE;
  case EAGAIN:
    return CP_EAGAIN;
  case ENOSYS:
  case ENOTSUP:
    return CP_ENOTSUP;
  case EIO:
    return CP_EIO;
  case ENAMETOOLONG:
    return CP_ENAMETOOLONG;
  case ELOOP:
    return CP_ELOOP;
  case EBADF:
    return CP_EBADF;
  case ECANCELED:
    return CP_ECANCELED;
  case EISDIR:
    return CP_EACCES;
  case ETXTBSY:
    return CP_EACCES;
  default:
    return CP_EUNKNOWN;
  }
}
