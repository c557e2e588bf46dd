/* stream.h - creating a stream around a descriptor (POSIX backend internal). */
#ifndef CP_POSIX_STREAM_H
#define CP_POSIX_STREAM_H

#include "posix.h"

/* Wraps fd (already non-blocking and close-on-exec); the stream owns it from now on. */
int posix_stream_new(os_loop *loop, int fd, os_stream **out);

#endif
