/* ipc_frame.h - libuv's Windows IPC frame format (what Node for Windows writes and expects on its
 * channel pipe), as pure functions on byte buffers: the Windows channel stream (src/win32/stream.c)
 * wraps every write in a frame and strips the frames from what it reads; the fuzz target drives the
 * same reader on any platform.
 *
 * A frame is a 16-byte header of four little-endian uint32 - flags, reserved1, data_length,
 * reserved2 - then, when flags has 0x02, a 632-byte socket record (WSAPROTOCOL_INFOW + a uint32),
 * then data_length payload bytes. flags: 0x01 the frame carries data, 0x02 a socket record follows,
 * 0x04 that socket is a connection (only with 0x02). reserved1 is written 0 and ignored when read;
 * reserved2 must be 0. The payloads, joined, are the channel's byte stream: frame boundaries carry
 * no meaning (Node joins payloads and splits at '\n'). */
#ifndef CP_IPC_FRAME_H
#define CP_IPC_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CP__FRAME_HEADER      16u
#define CP__FRAME_SOCKET_INFO 632u
#define CP__FRAME_HAS_DATA    0x01u
#define CP__FRAME_HAS_SOCKET  0x02u
#define CP__FRAME_SOCKET_CONN 0x04u

typedef struct cp__frame_reader {
  uint64_t limit;   /* largest data_length accepted */
  uint32_t payload; /* payload bytes of the current frame still to come */
  uint32_t skip;    /* socket-record bytes still to skip */
  unsigned head_n;  /* header bytes gathered so far */
  unsigned char head[CP__FRAME_HEADER];
  int failed; /* the error once a bad header was seen: every later call returns it */
} cp__frame_reader;

/* A reader refusing frames whose data_length is over `limit` (0: no limit but the format's). */
void cp__frame_reader_init(cp__frame_reader *r, uint64_t limit);

/* Takes buf[0..n), the next bytes read from the pipe, and strips the frame headers and socket
 * records from it in place: the payload bytes end up contiguous at buf[*off .. *off + *len) (no
 * bytes move when the read holds at most one frame's payload). Returns 0, or on a malformed header
 * CP_EPROTO (flags other than 0x00-0x03, 0x06, 0x07; reserved2 not 0; data_length without the
 * data flag) or CP_ENOBUFS (data_length over the limit); the payload before the bad header is still
 * given through off and len, and the reader stays failed. */
int cp__frame_strip(cp__frame_reader *r, char *buf, size_t n, size_t *off, size_t *len);

/* At the end of the stream: CP_EPROTO when it cut a header or a socket record short (or the reader
 * failed before), else 0. A payload cut short is not an error here: the bytes that came were given,
 * and the channel drops an incomplete message at the end as it does on POSIX. */
int cp__frame_end(const cp__frame_reader *r);

/* The number of frames cp__frame_write() makes for a len-byte payload (0 for len 0). */
size_t cp__frame_count(size_t len);

/* Writes the payload msg[0..len) as frames into out, which has room for
 * len + cp__frame_count(len) * CP__FRAME_HEADER bytes: one frame when len fits a uint32,
 * else as many as needed. Returns the bytes written. */
size_t cp__frame_write(char *out, const void *msg, size_t len);

#endif /* CP_IPC_FRAME_H */
